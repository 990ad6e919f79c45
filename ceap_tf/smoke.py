"""Smoke tests: the seed's test plan, run against a deployed workflow.

For the workflow's type, two cases: *normal* input (sample order events from
``ceap_tf.samples.orders``) and *empty* input ``{}``. Each case passes when the
execution SUCCEEDS, every stage of the type wrote a valid manifest under
``executions/{id}/`` whose data objects exist, and the counts are consistent
(Filter ``recordCount + rejectedCount`` == ETL ``recordCount``, each later stage
accounts for its predecessor's records, the empty run has zero everywhere). After
the cases the DLQ must be empty. STANDARD workflows first get the customer history
dataset the HeavyETL Glue job joins with (``ceap_tf.samples.history``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ceap_stages import contract
from ceap_tf.executions import ExecutionResult, TaskFailure, WorkflowClient, new_execution_name

#: Customers in the normal case (1-3 orders each); small so a local run stays quick.
NORMAL_CUSTOMERS = 40
HISTORY_CUSTOMERS = 40
HISTORY_ORDERS = 400


@dataclass
class Check:
    case: str
    check: str
    ok: bool
    detail: str = ""


@dataclass
class CaseResult:
    case: str
    execution: str
    status: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class SmokeReport:
    workflow: str
    type: str
    checks: list[Check] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "type": self.type,
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "cases": [asdict(c) for c in self.cases],
        }


SAMPLE_PROGRAM = "smoke-test"
SAMPLE_MARKETPLACE = "US"
SAMPLE_RANGE = ("2024-05-01", "2024-05-31")


def normal_input(customers: int = NORMAL_CUSTOMERS, seed: int = 1) -> dict[str, Any]:
    """Execution input with the order events of ``customers`` sample customers.

    The events come from ``ceap_tf.samples.orders`` (with its realistic noise: opted-out
    customers, duplicates, events outside the date range), so every filter path runs.
    """
    orders = importlib.import_module("ceap_tf.samples.orders")
    records = list(
        orders.generate_orders(customers, seed=seed, start=SAMPLE_RANGE[0], end=SAMPLE_RANGE[1])
    )
    return dict(
        orders.build_execution_input(
            SAMPLE_PROGRAM, SAMPLE_MARKETPLACE, *SAMPLE_RANGE, records=records
        )
    )


def seed_history(client: WorkflowClient) -> tuple[str, list[str], int]:
    """Write a small customer-history dataset where the Glue job looks by default.

    Returns the dataset's URI, the keys written and the number of orders.
    """
    history = importlib.import_module("ceap_tf.samples.history")
    spec = history.HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS)
    uri = f"s3://{client.bucket}/history/"
    written = history.write_history(spec, uri, s3_client=client.s3)
    return uri, list(written.files), int(written.records)


def check_history(client: WorkflowClient, uri: str, keys: list[str], orders: int) -> Check:
    """The seeded dataset is where the Glue job lists it: every written key is listed."""
    listed: set[str] = set()
    for page in client.s3.get_paginator("list_objects_v2").paginate(
        Bucket=client.bucket, Prefix="history/"
    ):
        listed.update(item["Key"] for item in page.get("Contents", []))
    missing = [key for key in keys if key not in listed]
    if not keys or missing:
        detail = f"{len(missing)} of {len(keys)} written objects not listed under {uri}"
        return Check("setup", "history dataset listed", False, detail)
    return Check(
        "setup",
        "history dataset listed",
        True,
        f"{orders} orders in {len(keys)} objects under {uri}",
    )


def check_counts(
    stages: tuple[str, ...], result: ExecutionResult, *, expect_records: bool
) -> list[tuple[str, bool, str]]:
    """Consistency of the record counts across stage manifests (name, ok, detail)."""
    checks: list[tuple[str, bool, str]] = []
    manifests = result.manifests
    if any(manifests.get(s) is None for s in stages):
        return checks
    etl = manifests[contract.ETL]
    assert etl is not None
    if expect_records:
        checks.append(("ETL produced candidates", etl.recordCount > 0, f"{etl.recordCount}"))
    else:
        total = sum(m.recordCount for m in manifests.values() if m is not None)
        checks.append(("every stage has zero records", total == 0, f"sum of recordCount {total}"))
    previous = etl
    for stage in stages[1:]:
        manifest = manifests[stage]
        assert manifest is not None
        if stage == contract.REACTIVE:
            ok = manifest.recordCount <= previous.recordCount
            detail = f"sent {manifest.recordCount} <= stored {previous.recordCount}"
        else:
            accounted = manifest.recordCount + manifest.rejectedCount
            ok = accounted == previous.recordCount
            detail = (
                f"{stage} {manifest.recordCount}+{manifest.rejectedCount} rejected "
                f"== {previous.stage} {previous.recordCount}"
            )
        checks.append((f"{stage} counts match {previous.stage}", ok, detail))
        previous = manifest
    return checks


def run_case(
    client: WorkflowClient,
    case: str,
    payload: Mapping[str, Any],
    report: SmokeReport,
    *,
    expect_records: bool,
    timeout: float,
    on_status: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    progress: Callable[[str], Callable[[float], str]] | None = None,
) -> None:
    name = new_execution_name(f"smoke-{case}")
    describe = progress(name) if progress is not None else lambda s: f"running {s:.0f}s"

    def tick(elapsed: float) -> None:
        if on_status is not None:
            on_status(f"{case}: {describe(elapsed)}")

    def stage_done(stage: str, manifest: contract.Manifest) -> None:
        if on_status is not None:
            on_status(f"{case}: {stage} wrote {manifest.recordCount} record(s)")

    def failed(failure: TaskFailure) -> None:
        if on_notice is not None:
            on_notice(f"{case}: {failure.stage} failed ({failure.error}): {failure.message}")

    result = client.run(
        payload,
        name=name,
        timeout=timeout,
        on_stage=stage_done,
        on_tick=tick,
        on_failure=failed,
    )
    report.cases.append(
        CaseResult(
            case=case,
            execution=name,
            status=result.status,
            seconds=round(result.seconds, 2),
            counts={s: m.recordCount for s, m in result.manifests.items() if m is not None},
        )
    )
    add = report.checks.append
    add(
        Check(
            case,
            "execution succeeded",
            result.succeeded,
            f"{result.seconds:.1f}s" if result.succeeded else result.failure_line(),
        )
    )
    for stage in client.stages:
        manifest = result.manifests.get(stage)
        key = contract.manifest_key(name, stage)
        if manifest is None:
            add(
                Check(
                    case, f"{stage} manifest", False, result.manifest_errors.get(stage, f"no {key}")
                )
            )
            continue
        missing = client.missing_data_keys(manifest)
        detail = f"{manifest.recordCount} record(s), {manifest.rejectedCount} rejected"
        if missing:
            detail = f"{len(missing)} listed object(s) missing, e.g. {missing[0]}"
        add(Check(case, f"{stage} manifest", not missing, detail))
    for check_name, ok, detail in check_counts(
        client.stages, result, expect_records=expect_records
    ):
        add(Check(case, check_name, ok, detail))


def run_smoke(
    client: WorkflowClient,
    *,
    customers: int = NORMAL_CUSTOMERS,
    timeout: float = 1800.0,
    on_status: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    progress: Callable[[str], Callable[[float], str]] | None = None,
) -> SmokeReport:
    """Run the normal and empty cases and the DLQ check; never raises for a failed check.

    ``progress(execution)`` makes the status text of a running case (the stage reached).
    """
    report = SmokeReport(workflow=str(client.workflow.get("name", "?")), type=client.type)
    if client.type == "STANDARD":
        if on_status is not None:
            on_status("seeding the customer history dataset")
        report.checks.append(check_history(client, *seed_history(client)))
    cases = [("normal", normal_input(customers), True), ("empty", {}, False)]
    for case, payload, expect_records in cases:
        run_case(
            client,
            case,
            payload,
            report,
            expect_records=expect_records,
            timeout=timeout,
            on_status=on_status,
            on_notice=on_notice,
            progress=progress,
        )
    depth = client.dlq_depth()
    if depth is None:
        report.checks.append(Check("queues", "DLQ empty", False, "no dlq_url in the outputs"))
    else:
        report.checks.append(Check("queues", "DLQ empty", depth == 0, f"{depth} message(s)"))
    return report
