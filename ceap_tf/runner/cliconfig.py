"""The terraform CLI configuration: provider mirror discovery and the ``cli.tfrc`` file.

A filesystem mirror (``CEAP_TF_PROVIDER_MIRROR``, else the first well-known directory
that holds the AWS provider) serves the providers it holds, ``direct`` the rest, with a
plugin cache under ``.ceap/``. Terraform never sees a ``TF_CLI_CONFIG_FILE`` the
environment may preset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ceap_tf.atomic_files import write_text_atomic
from ceap_tf.errors import (
    ToolMissing,
)

#: Environment variable naming a provider filesystem mirror directory.
MIRROR_ENV = "CEAP_TF_PROVIDER_MIRROR"


#: The provider every env needs; a probed directory is a mirror only if it holds it.
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"


#: Directories probed, in order, for a provider filesystem mirror.
WELL_KNOWN_MIRRORS: tuple[str, ...] = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def _provider_dirs(mirror: Path) -> list[str]:
    """``host/namespace/type`` of every provider a filesystem mirror holds."""
    found: list[str] = []
    for host in sorted(p for p in mirror.iterdir() if p.is_dir()):
        for namespace in sorted(p for p in host.iterdir() if p.is_dir()):
            for ptype in sorted(p for p in namespace.iterdir() if p.is_dir()):
                if any(ptype.iterdir()):
                    found.append(f"{host.name}/{namespace.name}/{ptype.name}")
    return found


def find_provider_mirror(environ: Mapping[str, str] | None = None) -> Path | None:
    """The provider filesystem mirror to use, or ``None`` (install from the registry).

    ``CEAP_TF_PROVIDER_MIRROR`` wins (an error when it does not exist); otherwise the
    first well-known directory holding the hashicorp/aws provider.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise ToolMissing(
                f"{MIRROR_ENV}={explicit} is not a directory",
                hint="point it at a terraform provider filesystem mirror or unset it",
            )
        return path.resolve()
    for candidate in WELL_KNOWN_MIRRORS:
        path = Path(candidate).expanduser()
        if (path / AWS_PROVIDER).is_dir():
            return path.resolve()
    return None


def render_cli_config(mirror: Path | None, plugin_cache_dir: Path) -> str:
    """The terraform CLI configuration text (HCL) for a mirror (or none) and a cache."""
    lines = [
        "# Written by ceap-tf (ceap_tf/runner/cliconfig.py) for each runner; edits are lost.",
        f"plugin_cache_dir = {json.dumps(str(plugin_cache_dir))}",
        "disable_checkpoint = true",
        "",
        "provider_installation {",
    ]
    providers = _provider_dirs(mirror) if mirror is not None else []
    if mirror is not None and providers:
        include = ", ".join(json.dumps(p) for p in providers)
        lines += [
            "  filesystem_mirror {",
            f"    path    = {json.dumps(str(mirror))}",
            f"    include = [{include}]",
            "  }",
            "  direct {",
            f"    exclude = [{include}]",
            "  }",
        ]
    else:
        lines += ["  direct {}"]
    lines += ["}", ""]
    return "\n".join(lines)


def cli_config_env(ceap_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Write ``{ceap_dir}/terraform/cli.tfrc`` and return the env vars pointing at it."""
    mirror = find_provider_mirror(environ)
    cache = (ceap_dir / "terraform" / "plugin-cache").resolve()
    cache.mkdir(parents=True, exist_ok=True)
    path = (ceap_dir / "terraform" / "cli.tfrc").resolve()
    write_text_atomic(path, render_cli_config(mirror, cache))
    return {"TF_CLI_CONFIG_FILE": str(path)}
