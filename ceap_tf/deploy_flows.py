"""The deployment flows behind the commands: package, plan, apply, destroy, outputs.

Prompting: on the **local** target nothing is asked before an apply (the embedded
cloud is disposable and private to the checkout). On **aws** an apply shows the
plan summary and asks unless ``--auto-approve``; without a terminal and without
``--auto-approve`` it refuses. ``destroy`` asks on every target unless
``--auto-approve``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import click

from ceap_tf.app import App
from ceap_tf.cost import ShapeUnreadable, estimate_variables
from ceap_tf.errors import CeapError, UsageProblem
from ceap_tf.packaging import BuildResult, package
from ceap_tf.progress import TerraformProgress
from ceap_tf.project import SHARED_ENV
from ceap_tf.runner import ApplyResult, PlanResult, Terraform
from ceap_tf.target import aws_errors
from ceap_tf.workspace import Workspace


class VariableSource(Protocol):
    """Where an env's artifact variables come from: a local build or a publish."""

    def terraform_variables(self) -> dict[str, Any]: ...


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def build(app: App, *, force: bool = False, quiet: bool = False) -> BuildResult:
    """``ceap-tf package`` for the current target's Lambda platform."""
    result = package(app.project, app.target.lambda_platform, force=force)
    if not quiet:
        for artifact in result.artifacts:
            state = "built" if artifact.built else "up to date"
            if artifact.kind == "glue_script":
                state = f"sha256 {artifact.sha256[:12]}"
            app.say(
                f"  {artifact.kind:<11} {artifact.path.name:<58} "
                f"{human_size(artifact.size):>9}  {state}"
            )
    return result


@dataclass
class Deployment:
    """One env on one target: its working root and terraform runner."""

    app: App
    env: str
    workspace: Workspace
    tf: Terraform

    @classmethod
    def open(cls, app: App, env: str, build_result: VariableSource | None) -> Deployment:
        variables = build_result.terraform_variables() if build_result else {}
        try:
            estimate = estimate_variables(app.project, env)
        except ShapeUnreadable as exc:  # the budget then needs budget_monthly_limit_usd
            app.debug(f"no cost estimate for the budget: {exc}")
            estimate = {}
        variables = {**estimate, **variables}
        workspace = Workspace(app.project, app.target, env)
        workspace.prepare(variables)
        tf = workspace.terraform()
        with app.err.status(f"terraform init ({env})", spinner="dots"):
            ran = workspace.init(tf)
        app.debug(f"init {'ran' if ran else 'skipped (unchanged)'} in {workspace.root}")
        return cls(app, env, workspace, tf)

    def plan(self, *, destroy: bool = False) -> PlanResult:
        with TerraformProgress(self.app.err, f"plan {self.env}", verbose=self.app.verbose > 0) as p:
            out = self.workspace.plan_path if self.app.target.backend != "tfc" else None
            return self.tf.plan(out=out, destroy=destroy, on_event=p.handle)

    def apply(self, plan: PlanResult) -> ApplyResult:
        with TerraformProgress(
            self.app.err, f"apply {self.env}", verbose=self.app.verbose > 0
        ) as p:
            if plan.plan_path is not None:
                return self.tf.apply(plan=plan.plan_path, on_event=p.handle)
            return self.tf.apply(on_event=p.handle)

    def destroy(self) -> ApplyResult:
        with TerraformProgress(
            self.app.err, f"destroy {self.env}", verbose=self.app.verbose > 0
        ) as p:
            return self.tf.destroy(on_event=p.handle)

    def outputs(self) -> dict[str, Any]:
        return self.tf.output_json()

    def resources(self) -> list[str]:
        """The managed resources in the state (data sources are not resources to count:
        apply, destroy and their questions all count these)."""
        return managed_addresses(self.tf.state_list())


def managed_addresses(addresses: list[str]) -> list[str]:
    """The managed resources among ``terraform state list`` addresses (no data sources,
    at the root or in a module)."""
    return [a for a in addresses if ".data." not in f".{a}"]


def confirm(app: App, question: str, *, auto_approve: bool, flag: str = "--auto-approve") -> None:
    """Ask ``question`` unless auto-approved (``flag``); refuse when there is no terminal."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UsageProblem(
            f"{question.rstrip('?')}: confirmation needed but there is no terminal",
            hint=f"pass {flag}",
        )
    if not click.confirm(question, default=False, err=True):
        raise CeapError("cancelled; nothing was changed")


def print_plan(app: App, env: str, plan: PlanResult) -> None:
    if not plan.has_changes:
        app.say(f"  {env}: no changes")
        return
    app.say(f"  {env}: {plan.summary.describe()}")
    if app.verbose:
        for change in plan.changes:
            app.say(f"    {change.action:<8} {change.address}")


def apply_env(
    app: App,
    env: str,
    build_result: VariableSource,
    *,
    auto_approve: bool,
    ask: Callable[[str], None] | None = None,
) -> tuple[Deployment, ApplyResult | None]:
    """Plan and apply one env (asking on aws unless auto-approved)."""
    deployment = Deployment.open(app, env, build_result)
    plan = deployment.plan()
    print_plan(app, env, plan)
    if not plan.has_changes:
        return deployment, None
    if app.target.name != "local":
        confirm(
            app,
            f"Apply {plan.summary.describe()} to {env} on {app.target.describe()}?",
            auto_approve=auto_approve,
        )
    result = deployment.apply(plan)
    app.say(f"  {env}: applied ({result.summary.describe().replace(' to ', ' ')})")
    return deployment, result


def workflow_output(deployment: Deployment, applied: ApplyResult | None = None) -> dict[str, Any]:
    """The env's ``workflow`` output: from ``applied`` (the outputs its apply streamed)
    when given and present there, else from ``terraform output``."""
    workflow = applied.outputs.get("workflow") if applied is not None else None
    if not isinstance(workflow, dict):
        workflow = deployment.outputs().get("workflow")
    if not isinstance(workflow, dict):
        raise UsageProblem(
            f"workflow {deployment.env!r} is not deployed on the "
            f"{deployment.app.target.name} target",
            hint=f"run: ceap-tf apply {deployment.env}",
        )
    return workflow


def buckets_of(env: str, outputs: dict[str, Any]) -> list[str]:
    """The S3 buckets an env owns, from its outputs."""
    if env == SHARED_ENV:
        bucket = outputs.get("glue_scripts_bucket")
        return [bucket] if isinstance(bucket, str) else []
    workflow = outputs.get("workflow")
    if isinstance(workflow, dict) and isinstance(workflow.get("bucket"), str):
        return [workflow["bucket"]]
    return []


def empty_bucket(app: App, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were deleted."""
    from botocore.exceptions import ClientError

    s3 = app.target.client("s3")
    deleted = 0
    with aws_errors(app.target, f"emptying {bucket}"):
        paginator = s3.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=bucket):
                batch = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                for start in range(0, len(batch), 1000):
                    chunk = batch[start : start + 1000]
                    response = s3.delete_objects(
                        Bucket=bucket, Delete={"Objects": chunk, "Quiet": True}
                    )
                    errors = response.get("Errors") or []
                    if errors:
                        first = errors[0]
                        raise CeapError(
                            f"could not empty {bucket}: {first.get('Code')} on {first.get('Key')}"
                        )
                    deleted += len(chunk)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return deleted
            raise
    return deleted
