"""The only place in ceap-tf that runs ``terraform``.

Shaped after HashiCorp's terraform-exec: one :class:`Terraform` object owns the
binary, the working directory, the environment and the data dir; each terraform
command is a method. Long commands run with ``-json`` and their machine-readable UI
events are parsed and handed to an event sink (a progress display, a test's list);
``show -json`` and ``output -json`` are parsed; ``plan -detailed-exitcode`` is
mapped (0 no changes, 2 changes, 1 error); diagnostics become one readable error.

Why not python-terraform: its last release (0.10.1, 2019) sends ``-force`` on
destroy, which Terraform 1.x rejects, and it cannot stream ``-json`` events.

Usage::

    tf = Terraform(root, env=target.terraform_env(), on_event=display.handle)
    tf.init()
    plan = tf.plan(out=root / "ceap.tfplan")
    if plan.has_changes:
        tf.apply(plan=plan.plan_path)
    outputs = tf.output_json()

Split by concern as terraform-exec splits its package, around the one type:
``terraform`` (:class:`Terraform`, the only code that starts the binary), ``events``
(UI events and command results), ``cliconfig`` (provider mirror and CLI configuration,
written by :func:`cli_config_env` once per runner), ``version`` (binary and version
check) and ``errors`` (diagnostics to one readable error).
"""

from ceap_tf.runner.cliconfig import (
    AWS_PROVIDER,
    MIRROR_ENV,
    WELL_KNOWN_MIRRORS,
    cli_config_env,
    find_provider_mirror,
    render_cli_config,
)
from ceap_tf.runner.errors import error_for, lock_message
from ceap_tf.runner.events import (
    ApplyResult,
    ChangeSummary,
    Diagnostic,
    Event,
    EventSink,
    PlannedChange,
    PlanResult,
    RunResult,
    TestResult,
    TestRun,
    ValidateResult,
    parse_event,
    plan_exit_meaning,
)
from ceap_tf.runner.terraform import Terraform
from ceap_tf.runner.version import (
    BINARY_ENV,
    MIN_VERSION,
    find_binary,
    parse_version,
    terraform_version,
)

__all__ = [
    "AWS_PROVIDER",
    "BINARY_ENV",
    "MIN_VERSION",
    "MIRROR_ENV",
    "WELL_KNOWN_MIRRORS",
    "ApplyResult",
    "ChangeSummary",
    "Diagnostic",
    "Event",
    "EventSink",
    "PlanResult",
    "PlannedChange",
    "RunResult",
    "Terraform",
    "TestResult",
    "TestRun",
    "ValidateResult",
    "cli_config_env",
    "error_for",
    "find_binary",
    "find_provider_mirror",
    "lock_message",
    "parse_event",
    "parse_version",
    "plan_exit_meaning",
    "render_cli_config",
    "terraform_version",
]
