"""``ceap-tf package``: the stage code zip, the dependency layer and the Glue script info.

Artifacts land in ``.ceap/build/`` and are described by ``.ceap/build/artifacts.json``:

* ``stage-code-<sha12>.zip``: ``lambda_src/ceap_stages`` as ``ceap_stages/...`` (one
  zip for all five handlers) and the Glue job's package ``glue/ceap_heavy_etl`` as
  ``ceap_heavy_etl/...`` (Glue imports both through ``--extra-py-files``).
* ``stage-layer-py<X.Y>-<platform>-<sha12>.zip``: the wheels of
  ``lambda_src/requirements.txt`` for the target runtime, under ``python/``. aws
  gets CPython 3.12 ``manylinux2014_x86_64`` wheels (``pip download --only-binary
  :all: --platform ...``, no Docker); local gets wheels for this interpreter.
  Packages the Lambda runtime already provides (boto3, botocore, ...) are left out
  unless ``requirements.txt`` pins them itself.
* the Glue script ``glue/heavy_etl.py``: path and sha256 (terraform uploads it).

Determinism: entries sorted, timestamps 1980-01-01, modes 0644/0755, no
``__pycache__``/bytecode, own files stored and wheel files copied with their
original compressed bytes (see :mod:`ceap_tf.deterministic_zip`), so the zips are
byte-identical from any checkout on any machine. Each zip is named by its content
hash and written atomically (temp file + rename).

Rebuilds happen only when content changes: a stat fingerprint (path, size, mtime)
short-cuts a no-op; when it differs, a content fingerprint decides.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ceap_tf.atomic_files import write_text_atomic
from ceap_tf.awsfacts import LAMBDA_RUNTIME_PACKAGES
from ceap_tf.deterministic_zip import ZipWriter, is_executable
from ceap_tf.errors import ToolMissing, UsageProblem
from ceap_tf.project import Project
from ceap_tf.target import LambdaPlatform

#: Bump when the zip layout or the rules change: every artifact is rebuilt.
FORMAT_VERSION = "1"
MANIFEST = "artifacts.json"
CACHE_ENV = "CEAP_WHEEL_CACHE"
#: In every Lambda Python runtime already; skipped unless requirements.txt pins them.
RUNTIME_PROVIDED = frozenset(LAMBDA_RUNTIME_PACKAGES)
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".so.dSYM")
_EXCLUDED_NAMES = {".DS_Store", "Thumbs.db"}


@dataclass
class Artifact:
    kind: str  # code, layer, glue_script
    path: Path
    sha256: str  # hex
    size: int
    files: int = 0
    label: str = ""  # layer: py3.12-manylinux2014_x86_64
    built: bool = False  # rebuilt by this call
    inputs: str = ""  # content fingerprint of what it was built from
    stat: str = ""  # cheap fingerprint (names, sizes, mtimes)

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def to_json(self, build_dir: Path) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("built")
        path = self.path
        doc["path"] = (
            str(path.relative_to(build_dir)) if path.is_relative_to(build_dir) else str(path)
        )
        doc["sha256_b64"] = self.sha256_b64
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any], build_dir: Path) -> Artifact:
        fields = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        fields["path"] = build_dir / doc["path"]
        return cls(**fields)


@dataclass
class BuildResult:
    code: Artifact
    layer: Artifact
    glue_script: Artifact | None
    platform: LambdaPlatform
    manifest: Path
    seconds: float = 0.0

    @property
    def artifacts(self) -> list[Artifact]:
        return [a for a in (self.code, self.layer, self.glue_script) if a is not None]

    def stage_package(self) -> dict[str, str]:
        """The ``stage_package`` terraform variable (see ARCHITECTURE.md)."""
        return {
            "code_zip_path": str(self.code.path),
            "code_zip_sha256": self.code.sha256_b64,
            "layer_zip_path": str(self.layer.path),
            "layer_zip_sha256": self.layer.sha256_b64,
            "runtime": self.platform.runtime,
        }

    def terraform_variables(self) -> dict[str, Any]:
        """Variables for every env; workspaces keep only those an env declares."""
        values: dict[str, Any] = {"stage_package": self.stage_package()}
        if self.glue_script is not None:
            values["glue_script"] = {
                "path": str(self.glue_script.path),
                "sha256": self.glue_script.sha256,
            }
        return values


# ------------------------------------------------------------------ fingerprints


def _is_excluded(relative: Path) -> bool:
    parts = relative.parts
    if any(p in _EXCLUDED_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
        return True
    name = parts[-1]
    return name in _EXCLUDED_NAMES or name.endswith(_EXCLUDED_SUFFIXES) or name.startswith(".")


def source_files(package_dir: Path) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of the files that go into the code zip, sorted."""
    if not package_dir.is_dir():
        raise UsageProblem(f"stage code not found: {package_dir} is not a directory")
    base = package_dir.parent
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _EXCLUDED_DIRS and not d.startswith(".")
        )
        for filename in filenames:
            path = Path(dirpath) / filename
            relative = path.relative_to(base)
            if path.is_file() and not _is_excluded(relative):
                found.append((relative.as_posix(), path))
    return sorted(found)


def stat_fingerprint(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for name, path in files:
        st = path.stat()
        digest.update(f"\0{name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def content_fingerprint(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for name, path in files:
        digest.update(f"\0{name}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- writing


def _atomic_zip(build_dir: Path, stem: str, write: Any) -> tuple[Path, str, int, int]:
    """Run ``write(ZipWriter)`` into a temp file, then rename it to ``{stem}-{sha12}.zip``."""
    build_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=build_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = ZipWriter(handle)
            write(writer)
            writer.close()
        digest = writer.sha256.hexdigest()
        final = build_dir / f"{stem}-{digest[:12]}.zip"
        tmp.chmod(0o644)
        tmp.replace(final)
        return final, digest, final.stat().st_size, writer.count
    finally:
        tmp.unlink(missing_ok=True)


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def build_code_zip(files: list[tuple[str, Path]], build_dir: Path) -> tuple[Path, str, int, int]:
    def write(writer: ZipWriter) -> None:
        seen: set[str] = set()
        for name, path in files:
            for directory in _parents(name):
                if directory not in seen:
                    seen.add(directory)
                    writer.add_dir(directory)
            writer.add_bytes(name, path.read_bytes())

    return _atomic_zip(build_dir, "stage-code", write)


# ------------------------------------------------------------------------ wheels


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names(requirements: Path) -> set[str]:
    names: set[str] = set()
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if match:
                names.add(_canonical(match.group(0)))
    return names


def wheel_cache_dir(project: Project, platform: LambdaPlatform, requirements_sha: str) -> Path:
    base = Path(os.environ.get(CACHE_ENV) or project.ceap_dir / "cache" / "wheels")
    return base / platform.label / requirements_sha[:16]


def resolve_wheels(requirements: Path, platform: LambdaPlatform, cache: Path) -> list[Path]:
    """Wheels for ``requirements`` on ``platform``; downloaded once into ``cache``.

    A cache may be shared (``CEAP_WHEEL_CACHE``) by builds running at the same time: one
    downloads while the others wait for it, so none lists a wheel pip is still writing.
    """
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _resolve_wheels_locked(requirements, platform, cache)


def _resolve_wheels_locked(requirements: Path, platform: LambdaPlatform, cache: Path) -> list[Path]:
    resolved = cache / "resolved.json"
    if resolved.is_file():
        names = json.loads(resolved.read_text())
        wheels = [cache / n for n in names]
        if all(w.is_file() for w in wheels):
            return wheels
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(cache),
        "-r",
        str(requirements),
    ]
    if platform.platform_tag:
        cmd += [
            "--platform",
            platform.platform_tag,
            "--python-version",
            platform.python_version,
            "--implementation",
            "cp",
        ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if "ERROR" in ln), lines[-1] if lines else "")
        raise ToolMissing(
            f"pip could not download wheels for {platform.label}: {last.strip()}",
            hint="check access to PyPI (or its mirror) and the pins in lambda_src/requirements.txt",
        )
    wheels = sorted(cache.glob("*.whl"))
    if not wheels:
        raise ToolMissing(f"pip downloaded no wheels for {platform.label}")
    resolved.write_text(json.dumps([w.name for w in wheels], indent=1) + "\n")
    return wheels


def _wheel_dist(wheel: Path) -> str:
    return _canonical(wheel.name.split("-", 1)[0])


def _layer_name(member: str) -> str | None:
    """Where a wheel member goes in ``python/`` (None = not installed / not wanted)."""
    parts = member.split("/")
    if member.endswith("/") or any(p in _EXCLUDED_DIRS for p in parts):
        return None
    if member.endswith((".pyc", ".pyo")):
        return None
    if parts[0].endswith(".data"):
        if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
            return "/".join(parts[2:])
        return None  # scripts, headers, data: not part of a Lambda layer
    return member


def build_layer_zip(wheels: list[Path], build_dir: Path, label: str) -> tuple[Path, str, int, int]:
    entries: dict[str, tuple[Path, zipfile.ZipInfo]] = {}
    for wheel in sorted(wheels, key=lambda w: w.name):
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                target = _layer_name(info.filename)
                if target is not None:
                    entries.setdefault(f"python/{target}", (wheel, info))

    def write(writer: ZipWriter) -> None:
        seen: set[str] = set()
        handles: dict[Path, Any] = {}
        if not entries:
            writer.add_dir("python/")
        try:
            for name in sorted(entries):
                wheel, info = entries[name]
                for directory in _parents(name):
                    if directory not in seen:
                        seen.add(directory)
                        writer.add_dir(directory)
                handle = handles.get(wheel) or handles.setdefault(wheel, wheel.open("rb"))
                executable = is_executable(info) or name.endswith(".so")
                writer.add_raw_from(name, handle, info, executable=executable)
        finally:
            for handle in handles.values():
                handle.close()

    return _atomic_zip(build_dir, f"stage-layer-{label}", write)


# ---------------------------------------------------------------------- manifest


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if doc.get("formatVersion") == FORMAT_VERSION else {}


def _previous(doc: dict[str, Any], key: str, build_dir: Path) -> Artifact | None:
    entry = doc.get(key)
    if not isinstance(entry, dict):
        return None
    try:
        artifact = Artifact.from_json(entry, build_dir)
    except (KeyError, TypeError):
        return None
    return artifact if artifact.path.is_file() else None


def _prune(build_dir: Path, keep: set[Path]) -> None:
    """Remove superseded zips (and stale temp files) so the build dir stays small."""
    for path in build_dir.glob("stage-*.zip"):
        if path not in keep:
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------- entry


def package(project: Project, platform: LambdaPlatform, *, force: bool = False) -> BuildResult:
    """Build (or reuse) the code zip, the layer for ``platform`` and the Glue script info."""
    import time

    started = time.perf_counter()
    build_dir = project.ceap_dir / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = build_dir / MANIFEST
    doc = _load_manifest(manifest_path)
    layers: dict[str, Any] = dict(doc.get("layers") or {})

    # -- stage code
    files = sorted(f for package in project.code_packages for f in source_files(package))
    stat_fp = stat_fingerprint(files)
    code = _previous(doc, "code", build_dir)
    if force or code is None or code.stat != stat_fp:
        content_fp = content_fingerprint(files)
        if force or code is None or code.inputs != content_fp:
            path, digest, size, count = build_code_zip(files, build_dir)
            code = Artifact("code", path, digest, size, count, built=True, inputs=content_fp)
        code.stat = stat_fp

    # -- dependency layer
    requirements = project.requirements
    if not requirements.is_file():
        raise UsageProblem(f"{requirements} is missing; it pins the stage dependencies")
    req_bytes = requirements.read_bytes()
    layer_inputs = hashlib.sha256(
        b"\0".join([FORMAT_VERSION.encode(), platform.label.encode(), req_bytes])
    ).hexdigest()
    layer = _previous(layers, platform.label, build_dir)
    if force or layer is None or layer.inputs != layer_inputs:
        pinned = pinned_names(requirements)
        wheels = []
        if pinned:  # no requirements: a layer with an empty python/ directory
            cache = wheel_cache_dir(project, platform, layer_inputs)
            wheels = resolve_wheels(requirements, platform, cache)
        wanted = [
            w for w in wheels if _wheel_dist(w) in pinned or _wheel_dist(w) not in RUNTIME_PROVIDED
        ]
        path, digest, size, count = build_layer_zip(wanted, build_dir, platform.label)
        layer = Artifact(
            "layer",
            path,
            digest,
            size,
            count,
            label=platform.label,
            built=True,
            inputs=layer_inputs,
        )
    layers[platform.label] = layer.to_json(build_dir)

    # -- Glue script (terraform uploads it; STANDARD envs get its path and hash)
    glue: Artifact | None = None
    script = project.glue_script
    if script.is_file():
        glue = Artifact(
            "glue_script", script.resolve(), _sha256_file(script), script.stat().st_size, 1
        )

    new_doc = {
        "formatVersion": FORMAT_VERSION,
        "code": code.to_json(build_dir),
        "layers": layers,
        "glue_script": glue.to_json(build_dir) if glue else None,
    }
    if new_doc != doc:
        write_text_atomic(
            manifest_path, json.dumps(new_doc, indent=2, sort_keys=True) + "\n", if_changed=False
        )
    if code.built or layer.built:
        keep = {code.path}
        keep |= {build_dir / entry["path"] for entry in layers.values() if isinstance(entry, dict)}
        _prune(build_dir, keep)
    return BuildResult(
        code=code,
        layer=layer,
        glue_script=glue,
        platform=platform,
        manifest=manifest_path,
        seconds=time.perf_counter() - started,
    )


def load_built(project: Project, platform: LambdaPlatform) -> BuildResult | None:
    """The artifacts recorded in artifacts.json for ``platform`` (None if not built)."""
    build_dir = project.ceap_dir / "build"
    doc = _load_manifest(build_dir / MANIFEST)
    code = _previous(doc, "code", build_dir)
    layer = _previous(doc.get("layers") or {}, platform.label, build_dir)
    if code is None or layer is None:
        return None
    glue_doc = doc.get("glue_script")
    glue = Artifact.from_json(glue_doc, build_dir) if isinstance(glue_doc, dict) else None
    return BuildResult(code, layer, glue, platform, build_dir / MANIFEST)
