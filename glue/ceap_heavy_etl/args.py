"""The job's arguments: ``--name value`` pairs, read with awsglue on Glue, argparse elsewhere."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ceap_stages import contract
from ceap_stages.errors import StageConfigError

IO_MODES: tuple[str, ...] = ("auto", "spark", "boto3")


REQUIRED_ARGS: tuple[str, ...] = (
    "execution_id",
    "workflow_bucket",
    "previous_stage",
    "current_stage",
)


OPTIONAL_ARGS: dict[str, str] = {
    "JOB_NAME": "ceap-heavy-etl-local",
    "JOB_RUN_ID": "",
    "history_uri": "",  # default s3://{workflow_bucket}/history/
    "workflow_root": "",  # default s3://{workflow_bucket}/
    "io_mode": "auto",
    "target_partition_mb": "128",
    "lookback_days": "365",
    # Lineage (modules/workflow sets both): the code that ran, recorded in the manifest.
    "ceap_script_sha256": "",  # hex SHA-256 of the job script
    "ceap_code_sha256": "",  # base64 SHA-256 of the stage code zip (--extra-py-files)
    # Fan-out (STANDARD workflows): about this many records per output part (hash
    # partitions by customer, so parts vary around it), so each Distributed Map child
    # gets a bounded share; 0 = size parts by bytes only.
    "records_per_part": "0",
}


@dataclass(frozen=True)
class JobArgs:
    """The job's arguments, validated. ``workflow_root`` is the URI keys are relative to."""

    execution_id: str
    workflow_bucket: str
    previous_stage: str
    current_stage: str
    history_uri: str = ""
    workflow_root: str = ""
    io_mode: str = "auto"
    target_partition_mb: int = 128
    lookback_days: int = 365
    records_per_part: int = 0
    job_name: str = "ceap-heavy-etl-local"
    job_run_id: str = ""
    script_sha256: str = ""
    code_sha256: str = ""

    def __post_init__(self) -> None:
        try:
            contract.check_execution_id(self.execution_id)
            contract.check_stage(self.previous_stage)
            contract.check_stage(self.current_stage)
        except contract.ContractError as exc:
            raise StageConfigError(str(exc)) from exc
        if self.previous_stage == self.current_stage:
            raise StageConfigError("--previous_stage and --current_stage must differ")
        if not self.workflow_bucket:
            raise StageConfigError("--workflow_bucket is empty")
        if self.io_mode not in IO_MODES:
            raise StageConfigError(f"--io_mode {self.io_mode!r}: expected one of {IO_MODES}")
        if self.target_partition_mb < 1 or self.lookback_days < 1:
            raise StageConfigError("--target_partition_mb and --lookback_days must be >= 1")
        if self.records_per_part < 0:
            raise StageConfigError("--records_per_part must be >= 0 (0: parts sized by bytes)")
        root = self.workflow_root or f"s3://{self.workflow_bucket}/"
        history = self.history_uri or f"s3://{self.workflow_bucket}/history/"
        object.__setattr__(self, "workflow_root", _dir_uri(root))
        object.__setattr__(self, "history_uri", _dir_uri(history))
        for name, uri in (("workflow_root", self.workflow_root), ("history_uri", self.history_uri)):
            if urlparse(uri).scheme not in ("s3", "file"):
                raise StageConfigError(f"--{name} {uri!r}: expected an s3:// or file:// URI")

    @property
    def target_bytes(self) -> int:
        return self.target_partition_mb * 1024 * 1024


def _dir_uri(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def parse_args(argv: list[str]) -> JobArgs:
    """Read ``--name value`` pairs: with awsglue's getResolvedOptions on Glue, else argparse."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        getResolvedOptions = None
    if getResolvedOptions is not None:
        present = [n for n in OPTIONAL_ARGS if f"--{n}" in argv]
        raw: dict[str, Any] = {
            **OPTIONAL_ARGS,
            **getResolvedOptions(argv, [*REQUIRED_ARGS, *present]),
        }
    else:
        parser = argparse.ArgumentParser(prog="heavy_etl.py", allow_abbrev=False)
        for name in REQUIRED_ARGS:
            parser.add_argument(f"--{name}", required=True)
        for name, default in OPTIONAL_ARGS.items():
            parser.add_argument(f"--{name}", default=default)
        raw = vars(parser.parse_known_args(argv[1:])[0])
    try:
        tuning = {
            k: int(raw[k]) for k in ("target_partition_mb", "lookback_days", "records_per_part")
        }
    except ValueError as exc:
        raise StageConfigError(
            f"--target_partition_mb/--lookback_days/--records_per_part: {exc}"
        ) from exc
    return JobArgs(
        execution_id=raw["execution_id"],
        workflow_bucket=raw["workflow_bucket"],
        previous_stage=raw["previous_stage"],
        current_stage=raw["current_stage"],
        history_uri=raw["history_uri"],
        workflow_root=raw["workflow_root"],
        io_mode=raw["io_mode"],
        job_name=raw["JOB_NAME"],
        job_run_id=raw["JOB_RUN_ID"],
        script_sha256=raw["ceap_script_sha256"],
        code_sha256=raw["ceap_code_sha256"],
        **tuning,
    )
