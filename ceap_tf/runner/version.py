"""The terraform binary and its version check (at least :data:`MIN_VERSION`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from ceap_tf.errors import (
    ToolMissing,
)

MIN_VERSION: tuple[int, int, int] = (1, 10, 0)


#: Environment variable naming the terraform binary (default: ``terraform`` on PATH).
BINARY_ENV = "CEAP_TERRAFORM"


_VERSION_CACHE: dict[str, tuple[int, int, int]] = {}


def find_binary(binary: str | os.PathLike[str] | None = None) -> str:
    name = str(binary) if binary else os.environ.get(BINARY_ENV) or "terraform"
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"terraform not found ({name!r} is not on PATH)",
            hint=f"install Terraform >= {'.'.join(map(str, MIN_VERSION))} or set {BINARY_ENV}",
        )
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    """``1.11.4`` / ``1.12.0-alpha1`` / ``Terraform v1.9.8`` -> (major, minor, patch)."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise ToolMissing(f"cannot read the terraform version from {text.strip()[:80]!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def terraform_version(binary: str) -> tuple[int, int, int]:
    """The binary's version (cached per process); raises when older than MIN_VERSION."""
    if binary not in _VERSION_CACHE:
        try:
            proc = subprocess.run(
                [binary, "version", "-json"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "CHECKPOINT_DISABLE": "1"},
                check=False,
            )
        except OSError as exc:
            raise ToolMissing(f"cannot run terraform at {binary}: {exc.strerror}") from exc
        try:
            text = json.loads(proc.stdout)["terraform_version"]
        except (ValueError, KeyError, TypeError):
            text = proc.stdout or proc.stderr
        version = parse_version(text)
        _VERSION_CACHE[binary] = version
    version = _VERSION_CACHE[binary]
    if version < MIN_VERSION:
        raise ToolMissing(
            f"terraform {'.'.join(map(str, version))} at {binary} is too old",
            hint=f"ceap-tf needs Terraform >= {'.'.join(map(str, MIN_VERSION))}",
        )
    return version
