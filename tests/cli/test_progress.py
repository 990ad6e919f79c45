"""The progress display consumes runner events (fed from a real terraform run)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from ceap_tf.errors import TerraformFailed
from ceap_tf.progress import TerraformProgress
from ceap_tf.runner import Terraform

FIXTURE = Path(__file__).parent / "fixtures" / "tiny"


@pytest.mark.terraform
def test_plain_progress_lines_for_a_real_apply(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    tf = Terraform(root, ceap_dir=tmp_path / ".ceap")
    tf.init()
    with TerraformProgress(console, "apply tiny") as progress:
        tf.apply(variables={"n": 2}, on_event=progress.handle)
    lines = out.getvalue().splitlines()
    assert progress.planned == {"terraform_data.a[0]", "terraform_data.a[1]", "terraform_data.b"}
    assert progress.done == progress.planned and not progress.failed
    done_lines = [ln for ln in lines if " created" in ln]
    assert len(done_lines) == 3
    assert {ln.split("] ")[0].strip() for ln in done_lines} == {"[1/3", "[2/3", "[3/3"}
    assert lines[-1].startswith("  apply tiny: 3 resource(s) done in ")

    out.truncate(0)
    out.seek(0)
    with pytest.raises(TerraformFailed), TerraformProgress(console, "apply tiny") as progress:
        tf.apply(variables={"fail": "true"}, on_event=progress.handle)
    assert progress.failed == ["terraform_data.b"]
    assert "terraform_data.b failed" in out.getvalue()


@pytest.mark.terraform
def test_interactive_progress_renders_without_errors(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    tf = Terraform(root, ceap_dir=tmp_path / ".ceap")
    tf.init()
    with TerraformProgress(console, "apply tiny") as progress:
        tf.apply(on_event=progress.handle)
    assert progress.total == 3 and len(progress.done) == 3
    assert "apply tiny: 3 resource(s) done" in out.getvalue()


@pytest.mark.terraform
def test_a_replacement_is_counted_once_so_no_counter_repeats(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    tf = Terraform(root, ceap_dir=tmp_path / ".ceap")
    tf.init()
    tf.apply()
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with TerraformProgress(console, "apply tiny") as progress:
        tf.apply(variables={"n": 3, "sleep": 1}, on_event=progress.handle)  # b is replaced
    counters = [ln.split("]")[0].strip() for ln in out.getvalue().splitlines() if "] " in ln]
    assert sorted(counters) == ["[1/2", "[2/2"]  # each number once
    assert "terraform_data.b destroyed (replacing)" in out.getvalue()
    assert "terraform_data.b replaced" in out.getvalue()
