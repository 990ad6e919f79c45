"""Packaging: deterministic zips, the layer from wheels, rebuild only on change."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import pytest
from awskit import wait_for
from click.testing import CliRunner

from ceap_tf import packaging
from ceap_tf.cli import main
from ceap_tf.errors import ToolMissing
from ceap_tf.project import Project
from ceap_tf.target import AWS_LAMBDA_PLATFORM, LambdaPlatform, local_lambda_platform


def make_wheel(directory: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A small but complete wheel: a package, an extension, .data dirs, dist-info."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{name}/_speed.cpython-312-x86_64-linux-gnu.so": b"\x7fELF fake extension",
        f"{name}/__pycache__/__init__.cpython-312.pyc": b"bytecode",
        f"{name}-{version}.data/purelib/{name}_extra.py": b"EXTRA = 2\n",
        f"{name}-{version}.data/scripts/{name}-cli": b"#!/bin/sh\n",
        f"{dist}/METADATA": metadata.encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist}/RECORD": b"",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 5, 17, 1, 2, 3))
            mode = 0o755 if member.endswith(".so") else 0o640
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


@pytest.fixture
def wheelhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local package index (pip --find-links); the network is never used."""
    house = tmp_path / "wheelhouse"
    make_wheel(house, "ceapdemo", "1.0", requires=("boto3",))
    make_wheel(house, "boto3", "9.9")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    monkeypatch.delenv(packaging.CACHE_ENV, raising=False)
    return house


def _scramble(root: Path, seed: int) -> None:
    """Different mtimes and permissions, plus bytecode caches, as another checkout has."""
    rng = random.Random(seed)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            os.chmod(path, rng.choice([0o600, 0o644, 0o664, 0o755]))
            stamp = rng.randrange(10**9, 2 * 10**9)
            os.utime(path, (stamp, stamp))
    cache = root / "lambda_src" / "ceap_stages" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / f"junk{seed}.cpython-311.pyc").write_bytes(os.urandom(16))
    (root / "lambda_src" / "ceap_stages" / "stages" / "etl.pyc").write_bytes(b"x")


def _two_checkouts(tmp_path: Path, requirements: str) -> tuple[Project, Project]:
    fixture = Path(__file__).parent / "fixtures" / "project"
    projects = []
    for index in (1, 2):
        root = tmp_path / f"checkout{index}" / "project"
        shutil.copytree(fixture, root)
        (root / "lambda_src" / "requirements.txt").write_text(requirements)
        _scramble(root, index)
        projects.append(Project(root))
    return projects[0], projects[1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("platform", [AWS_LAMBDA_PLATFORM, local_lambda_platform()])
def test_two_checkouts_build_byte_identical_zips(
    tmp_path: Path, wheelhouse: Path, platform: LambdaPlatform
) -> None:
    first, second = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    a = packaging.package(first, platform)
    b = packaging.package(second, platform)
    assert a.code.built and b.code.built
    assert _sha(a.code.path) == _sha(b.code.path) == a.code.sha256 == b.code.sha256
    assert _sha(a.layer.path) == _sha(b.layer.path) == a.layer.sha256
    assert a.code.path.name == f"stage-code-{a.code.sha256[:12]}.zip"
    assert a.layer.path.name == f"stage-layer-{platform.label}-{a.layer.sha256[:12]}.zip"
    assert a.glue_script is not None and a.glue_script.sha256 == _sha(first.glue_script)


def test_code_zip_layout_is_normalised(tmp_path: Path, wheelhouse: Path) -> None:
    first, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    result = packaging.package(first, AWS_LAMBDA_PLATFORM)
    with zipfile.ZipFile(result.code.path) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert names == [
            "ceap_heavy_etl/",
            "ceap_heavy_etl/__init__.py",
            "ceap_stages/",
            "ceap_stages/__init__.py",
            "ceap_stages/model.json",
            "ceap_stages/stages/",
            "ceap_stages/stages/__init__.py",
            "ceap_stages/stages/etl.py",
        ]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            mode = info.external_attr >> 16
            expected = 0o40755 if info.is_dir() else 0o100644
            assert mode == expected, info.filename
            assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read("ceap_stages/stages/etl.py").startswith(b"def handler")


def test_layer_holds_installed_wheels_without_runtime_packages(
    tmp_path: Path, wheelhouse: Path
) -> None:
    first, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    result = packaging.package(first, AWS_LAMBDA_PLATFORM)
    with zipfile.ZipFile(result.layer.path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == sorted(names)
        assert "python/ceapdemo/__init__.py" in names
        assert "python/ceapdemo_extra.py" in names  # .data/purelib is installed at the root
        assert "python/ceapdemo-1.0.dist-info/METADATA" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert not [n for n in names if ".data/" in n or n.endswith("-cli")]
        assert not [n for n in names if n.startswith("python/boto3")]  # Lambda provides it
        so = archive.getinfo("python/ceapdemo/_speed.cpython-312-x86_64-linux-gnu.so")
        assert so.external_attr >> 16 == 0o100755
        assert archive.getinfo("python/ceapdemo/__init__.py").external_attr >> 16 == 0o100644
        assert archive.read("python/ceapdemo_extra.py") == b"EXTRA = 2\n"
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_explicitly_pinned_runtime_package_is_kept(tmp_path: Path, wheelhouse: Path) -> None:
    first, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\nboto3==9.9\n")
    result = packaging.package(first, AWS_LAMBDA_PLATFORM)
    with zipfile.ZipFile(result.layer.path) as archive:
        assert "python/boto3/__init__.py" in archive.namelist()


def test_rebuilds_only_when_content_changes(tmp_path: Path, wheelhouse: Path) -> None:
    project, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    manifest = project.ceap_dir / "build" / "artifacts.json"
    first = packaging.package(project, AWS_LAMBDA_PLATFORM)
    assert first.code.built and first.layer.built

    again = packaging.package(project, AWS_LAMBDA_PLATFORM)
    assert not again.code.built and not again.layer.built
    assert again.code.path == first.code.path and again.layer.path == first.layer.path
    before = manifest.read_text()

    source = project.stage_src / "stages" / "etl.py"
    os.utime(source, (2 * 10**9, 2 * 10**9))  # touched, same content
    touched = packaging.package(project, AWS_LAMBDA_PLATFORM)
    assert not touched.code.built and touched.code.sha256 == first.code.sha256
    assert json.loads(manifest.read_text())["code"]["stat"] != json.loads(before)["code"]["stat"]

    source.write_text(source.read_text() + "# changed\n")
    changed = packaging.package(project, AWS_LAMBDA_PLATFORM)
    assert changed.code.built and changed.code.sha256 != first.code.sha256
    assert not changed.layer.built
    assert not first.code.path.exists()  # superseded zip pruned
    assert changed.code.path.exists() and changed.layer.path.exists()

    project.requirements.write_text("ceapdemo==1.0\nboto3==9.9\n")
    relayered = packaging.package(project, AWS_LAMBDA_PLATFORM)
    assert relayered.layer.built and not relayered.code.built
    assert relayered.layer.sha256 != first.layer.sha256

    forced = packaging.package(project, AWS_LAMBDA_PLATFORM, force=True)
    assert forced.code.built and forced.code.sha256 == changed.code.sha256


def test_layers_for_two_platforms_live_side_by_side(tmp_path: Path, wheelhouse: Path) -> None:
    project, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    aws = packaging.package(project, AWS_LAMBDA_PLATFORM)
    local = packaging.package(project, local_lambda_platform())
    assert aws.layer.path.exists() and local.layer.path.exists()
    doc = json.loads((project.ceap_dir / "build" / "artifacts.json").read_text())
    assert set(doc["layers"]) == {AWS_LAMBDA_PLATFORM.label, local_lambda_platform().label}
    loaded = packaging.load_built(project, AWS_LAMBDA_PLATFORM)
    assert loaded is not None and loaded.layer.sha256 == aws.layer.sha256
    assert loaded.stage_package()["runtime"] == "python3.12"
    assert loaded.stage_package()["layer_zip_sha256"] == aws.layer.sha256_b64


def test_empty_requirements_give_an_empty_layer(project_copy: Path) -> None:
    result = packaging.package(Project(project_copy), AWS_LAMBDA_PLATFORM)
    with zipfile.ZipFile(result.layer.path) as archive:
        assert archive.namelist() == ["python/"]


def test_unresolvable_requirement_is_one_clear_error(tmp_path: Path, wheelhouse: Path) -> None:
    project, _ = _two_checkouts(tmp_path, "no-such-package-ceap==1.0\n")
    with pytest.raises(ToolMissing, match=r"pip could not download wheels for py3\.12"):
        packaging.package(project, AWS_LAMBDA_PLATFORM)


def _flock_waiters(path: Path) -> int:
    """Processes or threads blocked in flock() on ``path`` (Linux /proc/locks)."""
    inode = path.stat().st_ino
    return sum(
        1
        for line in Path("/proc/locks").read_text().splitlines()
        if line.split()[1:2] == ["->"] and line.split()[6].rsplit(":", 1)[-1] == str(inode)
    )


def test_a_shared_wheel_cache_is_filled_by_one_build_at_a_time(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builds sharing CEAP_WHEEL_CACHE (parallel test workers, CI jobs) never list a
    wheel another pip is still writing: a build waits while another fills the cache,
    then uses what it downloaded."""
    project, _ = _two_checkouts(tmp_path, "ceapdemo==1.0\n")
    cache = packaging.wheel_cache_dir(project, AWS_LAMBDA_PLATFORM, "0" * 64)
    cache.mkdir(parents=True)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nothing"))  # pip finds nothing
    done: list[list[Path]] = []
    with (cache / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another build is downloading
        waiting = threading.Thread(
            target=lambda: done.append(
                packaging.resolve_wheels(project.requirements, AWS_LAMBDA_PLATFORM, cache)
            )
        )
        waiting.start()
        wait_for(lambda: _flock_waiters(cache / ".lock") == 1, timeout=30)
        shutil.copy(wheelhouse / "ceapdemo-1.0-py3-none-any.whl", cache)
        (cache / "resolved.json").write_text('["ceapdemo-1.0-py3-none-any.whl"]')
    waiting.join()
    assert done == [[cache / "ceapdemo-1.0-py3-none-any.whl"]]


def test_terraform_variables_carry_paths_and_hashes(project_copy: Path) -> None:
    result = packaging.package(Project(project_copy), AWS_LAMBDA_PLATFORM)
    variables = result.terraform_variables()
    package = variables["stage_package"]
    assert Path(package["code_zip_path"]).is_file()
    assert package["code_zip_sha256"] == result.code.sha256_b64
    assert len(package["code_zip_sha256"]) == 44  # base64 of 32 bytes
    assert variables["glue_script"]["sha256"] == _sha(project_copy / "glue" / "heavy_etl.py")


def test_package_command_prints_sizes_and_json(project_copy: Path, clean_aws_env: None) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--project-dir", str(project_copy), "package"])
    assert result.exit_code == 0, result.output
    assert "stage-code-" in result.stderr and "built" in result.stderr
    assert re.search(r"stage-code-\w{12}\.zip +\d+(\.\d)? (B|KB)  built", result.stderr)
    again = runner.invoke(main, ["package", "--json", "--project-dir", str(project_copy)])
    doc = json.loads(again.stdout)
    assert {a["kind"]: a["built"] for a in doc["artifacts"]} == {
        "code": False,
        "layer": False,
        "glue_script": False,
    }
    assert doc["runtime"] == local_lambda_platform().runtime
    aws = runner.invoke(main, ["--target", "aws", "--project-dir", str(project_copy), "package"])
    assert aws.exit_code == 0, aws.output
    assert "py3.12-manylinux2014_x86_64" in aws.stderr
