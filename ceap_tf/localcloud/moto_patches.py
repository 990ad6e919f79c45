"""Every change ceap-tf makes to moto's internals, in one place, behind a version guard.

moto 5.2.5 runs a Terraform-deployed CEAP stack only with these gaps closed (measured
in ``../shared/research/local-cloud.md``):

- Step Functions: executions run with the interpreter from the first request,
  StartSyncExecution, ValidateStateMachineDefinition, ListStateMachineVersions,
  ``glue:startJobRun.sync`` (the 5.2.5 interpreter crashes on it), execution history to
  the state machine's log group, unique names for unnamed executions.
- Lambda: Invoke runs the deployed zip (see :mod:`lambda_runtime`); State Active and
  LastUpdateStatus Successful at once.
- Step Functions RedriveExecution (STANDARD): the same execution resumes at the state
  where it failed, with that state's input; DescribeExecution reports redrives.
- SQS: RedriveAllowPolicy, attributes omitted when unset (as AWS does), compact JSON;
  StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask (see
  :mod:`sqs_moves`).
- Glue: UpdateJob, no invented ExecutionClass, job runs that execute the script (see
  :mod:`glue_job_runs`) with the run states Glue reports.
- S3: bucket-policy conditions evaluated (a TLS-only Deny no longer denies everything);
  conditional writes (``If-None-Match: *``, Terraform's lock file) atomic per key.
- Quotas and payload limits moto lacks (see :mod:`quotas`): Lambda account and reserved
  concurrency (throttling), Lambda request/response sizes, Step Functions execution
  input, EventBridge PutEvents entries.
- IAM and KMS: moto's request authentication (access key, session token, signature) for
  every STS session and IAM user, then the decision of :mod:`iam_enforcement` with the
  caller's identity policies, the resource's policy and the KMS needs of encrypted data;
  AWS's AccessDenied errors. The state machine's integrations call with its role's
  session; role sessions for the services (:func:`assume_role`).
- SNS: HTTP(S) and email subscriptions confirm first and deliver in the background
  (see :mod:`sns_delivery`); CloudWatch: a changed alarm state publishes to the
  alarm's SNS actions (see :mod:`alarm_actions`).

Nothing else in ceap-tf imports moto internals. :func:`check_moto_version` fails loudly
when the installed moto is not the one these patches were written against.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.metadata
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ceap_tf.awsfacts import glue_dpus
from ceap_tf.localcloud import iam_enforcement, item_json, policies, quotas
from ceap_tf.localcloud.glue_job_runs import GlueRunner, GlueRunSpec
from ceap_tf.localcloud.iam_enforcement import Need, RoleSessions, ServiceRequest
from ceap_tf.localcloud.lambda_runtime import FunctionSpec, LambdaRuntime, LayerSpec
from ceap_tf.localcloud.sqs_moves import MessageMover, MoveTaskError

MOTO_VERSION = "5.2.5"
LOG = logging.getLogger("ceap_tf.localcloud")


class MotoVersionError(RuntimeError):
    """The installed moto is not the version the local cloud's patches target."""


def check_moto_version() -> None:
    try:
        installed = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError as exc:
        raise MotoVersionError(
            f"moto is not installed; the local cloud needs moto[server]=={MOTO_VERSION} "
            f"(pip install 'moto[server]=={MOTO_VERSION}')"
        ) from exc
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local cloud patches moto internals and needs moto=={MOTO_VERSION} exactly, "
            f"found moto {installed}; install the pinned version: "
            f"pip install 'moto[server]=={MOTO_VERSION}'"
        )


def _require(owner: Any, name: str) -> Any:
    """The attribute a patch replaces or relies on; fail loudly if moto moved it."""
    try:
        return getattr(owner, name)
    except AttributeError as exc:
        raise MotoVersionError(
            f"moto {MOTO_VERSION} internals changed: {owner!r} has no attribute {name!r}"
        ) from exc


@dataclass
class Hooks:
    lambda_runtime: LambdaRuntime
    glue_runner: GlueRunner
    message_mover: MessageMover
    concurrency: quotas.ConcurrencyPool = field(default_factory=quotas.ConcurrencyPool)


_applied = threading.Lock()
_state: dict[str, Any] = {}


def apply(hooks: Hooks) -> None:
    """Configure moto and close the gaps. Call once, before any request is served."""
    check_moto_version()
    with _applied:
        if _state.get("applied"):
            _state["hooks"] = hooks
            return
        _state["hooks"] = hooks
        # moto's own PutFunctionConcurrency check (100 unreserved) against our limit.
        os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(hooks.concurrency.limit)
        _configure()
        _patch_stepfunctions()
        _patch_lambda()
        _patch_sqs()
        _patch_glue()
        _patch_s3()
        _patch_s3_conditional_writes()
        _patch_quotas()
        _patch_iam()
        _state["applied"] = True


def _hooks() -> Hooks:
    return _state["hooks"]


def make_wsgi_app() -> Any:
    """moto's own server application (all services, routed like ``moto_server``)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    _remember_backends_by_host(app)
    return app


def _remember_backends_by_host(app: Any) -> None:
    """moto 5.2.5 finds a request's service by listing its modules and trying every
    service's URL patterns, twice per request (the endpoint's host, then the host it
    infers from the signature), under one lock. The answer for a host never changes, so
    it is kept: a request costs one dictionary lookup instead (a quarter of a small
    DynamoDB request's time in the server)."""
    find = _require(app, "get_backend_for_host")
    known: dict[str | None, Any] = {}

    def get_backend_for_host(host: str | None) -> Any:
        if host not in known:
            known[host] = find(host)
        return known[host]

    app.get_backend_for_host = get_backend_for_host


def request_handler_class() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


# --------------------------------------------------------------------------- config
def _configure() -> None:
    from moto.core.config import default_user_config
    from moto.moto_api import state_manager

    # The parser backend (real executions) must be selected before any state machine
    # exists: the two backends keep separate stores.
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    default_user_config.setdefault("lambda", {})["use_docker"] = False
    # Glue job runs are advanced by the runner, never by reads.
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**12})


# --------------------------------------------------------------------------- logs
def write_logs(
    account_id: str,
    region: str,
    group: str,
    stream: str,
    lines: list[tuple[int, str]],
    *,
    writer_role: str | None = None,
) -> None:
    """Append lines to a CloudWatch log stream, creating the group/stream as AWS does.

    With ``writer_role`` (the function's or state machine's role): when the group is gone
    and so is that role -- the workflow was destroyed while it ran -- the lines are
    dropped, as on AWS, where the deleted role can no longer create the group or write
    (the group is not re-created behind the destroy)."""
    from moto.logs.models import logs_backends

    if not lines:
        return
    backend = logs_backends[account_id][region]
    with _LOGS_LOCK:
        if group not in backend.groups and writer_role and not _role_exists(writer_role):
            LOG.info("logs for %s dropped: the group and the role %s are gone", group, writer_role)
            return
        _write_logs_locked(backend, group, stream, lines)


def _role_exists(role_arn: str) -> bool:
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    return any(r.arn == role_arn for r in iam_backends[account]["global"].get_roles())


_LOGS_LOCK = threading.Lock()


def _write_logs_locked(backend: Any, group: str, stream: str, lines: list[tuple[int, str]]) -> None:
    from moto.logs.exceptions import ResourceAlreadyExistsException

    if group not in backend.groups:
        with contextlib.suppress(ResourceAlreadyExistsException):
            backend.create_log_group(group, {})
    if stream not in backend.groups[group].streams:
        with contextlib.suppress(ResourceAlreadyExistsException):
            backend.create_log_stream(group, stream)
    events = [{"timestamp": ts, "message": message} for ts, message in lines]
    backend.put_log_events(group, stream, events)


# --------------------------------------------------------------------------- Step Functions
def _patch_stepfunctions() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return _new_execution(self, state_machine_arn, name, execution_input, sync=False)

    _require(StepFunctionsParserBackend, "start_execution")
    StepFunctionsParserBackend.start_execution = start_execution
    _patch_sfn_responses()
    _patch_sfn_sync_integrations()
    _patch_sfn_redrive()


def _history_timestamp_ms(value: Any) -> int:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(value.timestamp() * 1000)


def _logging_session(state_machine: Any, execution_arn: str, execution_name: str) -> Any:
    """A CloudWatch Logs session for the state machine's logging configuration, or None."""
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )

    # AWS defaults includeExecutionData to false; the provider omits it when false.
    logging_configuration = {
        "includeExecutionData": False,
        **(state_machine.loggingConfiguration or {}),
    }
    config = CloudWatchLoggingConfiguration.from_logging_configuration(
        state_machine_arn=state_machine.arn, logging_configuration=logging_configuration
    )
    if config is None:
        return None
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M")
    stream = f"states/{state_machine.name}/{started}/{execution_name}"

    class LoggingSession(CloudWatchLoggingSession):
        """Writes each history event as one JSON message, like Step Functions does."""

        def publish_history_log(self, history_log: Any) -> None:
            millis = _history_timestamp_ms(history_log["event_timestamp"])
            event_type = history_log["type"]
            details = history_log.get("details", {})
            if not config.include_execution_data:
                # moto drops input and output; a task's parameters are execution data too.
                details = {k: v for k, v in details.items() if k != "parameters"}
            message = {
                "id": history_log["id"],
                "type": getattr(event_type, "value", str(event_type)),
                "details": details,
                "previous_event_id": history_log["previous_event_id"],
                "event_timestamp": str(millis),
                "execution_arn": history_log["execution_arn"],
            }
            text = json.dumps(message, separators=(",", ":"), default=str)
            try:
                write_logs(
                    config.log_account_id,
                    config.log_region,
                    config.log_group_name,
                    stream,
                    [(millis, text)],
                    writer_role=getattr(state_machine, "roleArn", None),
                )
            except Exception:  # logging must never fail an execution
                LOG.exception("could not write execution history to %s", config.log_group_name)

    return LoggingSession(execution_arn=execution_arn, configuration=config)


def _new_execution(
    backend: Any, arn: str, name: str | None, execution_input: str | None, sync: bool
) -> Any:
    """Start an execution with the interpreter (StartExecution and StartSyncExecution)."""
    import copy

    from moto.stepfunctions.exceptions import InvalidExecutionInput
    from moto.stepfunctions.parser.backend.execution import Execution, SyncExecution

    state_machine = backend.describe_state_machine(arn)
    if name:
        backend._validate_name(name)
    name = name or str(uuid.uuid4())  # moto 5.2.5 names every unnamed execution "None"
    input_data = execution_input if execution_input is not None else "{}"
    existing = state_machine._handle_name_input_idempotency(name, input_data)
    if existing is not None:
        return existing
    try:
        json.loads(input_data)
    except ValueError as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from exc
    try:
        quotas.check_execution_input(input_data)
    except quotas.QuotaExceeded as exc:
        raise InvalidExecutionInput(exc.message) from None
    # The execution keeps a snapshot of the definition (executions and backend shared).
    snapshot = copy.deepcopy(
        state_machine,
        {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend},
    )
    snapshot.sm_type = state_machine.type
    kind = "express" if state_machine.type == "EXPRESS" else "execution"
    execution_arn = (
        f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:"
        f"{kind}:{state_machine.name}:{name}"
    )
    execution = (SyncExecution if sync else Execution)(
        name=name,
        sm_type=state_machine.type,
        role_arn=snapshot.roleArn,
        exec_arn=execution_arn,
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=snapshot,
        start_date=dt.datetime.now(tz=dt.UTC),
        cloud_watch_logging_session=_logging_session(state_machine, execution_arn, name),
        input_data=input_data,
        trace_header=None,
        activity_store={},
    )
    state_machine.executions.append(execution)
    execution.start()
    return execution


def _patch_sfn_responses() -> None:
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )
    from moto.stepfunctions.responses import StepFunctionResponse

    class StateMachineTypeNotSupported(AWSError):
        TYPE = "StateMachineTypeNotSupported"
        STATUS = 400

        def __init__(self) -> None:
            super().__init__("This operation is not supported by this type of state machine")

    def start_sync_execution(self: Any) -> Any:
        arn = self._get_param("stateMachineArn")
        state_machine = self.stepfunction_backend.describe_state_machine(arn)
        if state_machine.type != "EXPRESS":
            raise StateMachineTypeNotSupported()
        execution = _new_execution(
            self.stepfunction_backend,
            arn,
            self._get_param("name"),
            self._get_param("input", if_none="{}"),
            sync=True,
        )
        output = dict(execution.to_start_sync_execution_output())
        status = output.get("status")
        output["status"] = getattr(status, "value", status) or "FAILED"
        for key in ("inputDetails", "outputDetails", "traceHeader"):
            output.pop(key, None)
        # No billingDetails: the local cloud measures no billed memory or duration.
        return ActionResult(output)

    def validate_state_machine_definition(self: Any) -> Any:
        diagnostics: list[dict[str, str]] = []
        try:
            AmazonStateLanguageParser.parse(self._get_param("definition"))
        except ASLParserException as exc:
            diagnostics.append(
                {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(exc)}
            )
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            diagnostics.append(
                {"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": message}
            )
        result = "FAIL" if diagnostics else "OK"
        return ActionResult({"result": result, "diagnostics": diagnostics, "truncated": False})

    def list_state_machine_versions(self: Any) -> Any:
        arn = self._get_param("stateMachineArn")
        state_machine = self.stepfunction_backend.describe_state_machine(arn)
        versions = sorted(state_machine.versions.values(), key=lambda v: -v.version)
        items = [
            {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions
        ]
        return ActionResult({"stateMachineVersions": items})

    original_list_executions = _require(StepFunctionResponse, "list_executions")

    def list_executions(self: Any) -> Any:
        state_machine = self.stepfunction_backend.describe_state_machine(
            self._get_param("stateMachineArn")
        )
        if state_machine.type == "EXPRESS":  # AWS keeps no execution records for EXPRESS
            raise StateMachineTypeNotSupported()
        return original_list_executions(self)

    original_describe = _require(StepFunctionResponse, "_describe_state_machine")

    def describe_state_machine(self: Any, state_machine_arn: str) -> Any:
        body = dict(original_describe(self, state_machine_arn).result)
        state_machine = self.stepfunction_backend.describe_state_machine(state_machine_arn)
        revision = f"{state_machine.arn}|{state_machine.update_date.isoformat()}"
        body["revisionId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, revision))
        return ActionResult(body)

    StepFunctionResponse.start_sync_execution = start_sync_execution
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
    StepFunctionResponse._describe_state_machine = describe_state_machine
    StepFunctionResponse.list_executions = list_executions


def _patch_sfn_sync_integrations() -> None:
    """``.sync`` tasks of services without waitForTaskToken (Glue) crash in 5.2.5.

    ``_eval_integration_pattern`` calls ``interrupt_all()`` on a callback endpoint that is
    None for them. This runs the same sync protocol without the callback endpoint.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_module,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    service_callback = _require(callback_module, "StateTaskServiceCallback")
    original = _require(service_callback, "_eval_integration_pattern")
    _require(service_callback, "_eval_sync")

    def eval_integration_pattern(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: Any,
        state_credentials: Any,
    ) -> None:
        if ResourceCondition.WaitForTaskToken in self._supported_integration_patterns:
            original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
            return
        task_output = env.stack.pop()
        self.timeout.eval(env=env)
        timeout_seconds = env.stack.pop()
        env.stack.append(task_output)
        build = (
            self._build_sync_resolver
            if self.resource.condition == ResourceCondition.Sync
            else self._build_sync2_resolver
        )
        resolver = build(
            env=env,
            resource_runtime_part=resource_runtime_part,
            normalised_parameters=normalised_parameters,
            state_credentials=state_credentials,
        )
        outcome = self._eval_sync(
            env=env,
            sync_resolver=resolver,
            timeout_seconds=timeout_seconds,
            callback_endpoint=None,
            heartbeat_endpoint=None,
        )
        if isinstance(outcome, Exception):
            raise outcome
        env.stack.append(outcome)

    service_callback._eval_integration_pattern = eval_integration_pattern
    _patch_sfn_glue_output()
    _patch_sfn_distributed_map_failures()


def _patch_sfn_distributed_map_failures() -> None:
    """A failed child workflow of a Distributed Map fails the Map in 5.2.5 never.

    moto counts the failed item and returns ``null`` as its result, so the Map and the
    execution succeed. As on AWS, failed (or timed-out) children beyond the tolerated
    failure count/percentage fail the Map run and the Map state: with no tolerance (the
    default 0/0) the first failed child's own error and cause; with a declared tolerance
    ``States.ExceedToleratedFailureThreshold``
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html#maprun-fail-threshold).
    A parent redrive re-runs the Map (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    iteration = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration"
    component_module = importlib.import_module(f"{iteration}.distributed_iteration_component")
    worker_module = importlib.import_module(
        f"{iteration}.itemprocessor.distributed_item_processor_worker"
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError

    worker = _require(worker_module, "DistributedItemProcessorWorker")
    component = _require(component_module, "DistributedIterationComponent")
    eval_job = _require(worker, "_eval_job")
    map_run = _require(component, "_map_run")
    lock = threading.Lock()

    def eval_job_recording_failure(self: Any, env: Any, job: Any) -> None:
        eval_job(self, env, job)
        state = env.program_state()
        if isinstance(state, ProgramError):
            record = self._map_run_record
            error = dict(state.error or {})
            with lock:
                if getattr(record, "ceap_first_failure", None) is None:
                    record.ceap_first_failure = (error.get("error"), error.get("cause"))

    def map_run_failing_on_failed_children(self: Any, env: Any, eval_input: Any) -> None:
        map_run(self, env, eval_input)
        record = eval_input.map_run_record
        items = record.item_counter
        failed = items.failed.get() + items.timed_out.get()
        total = max(1, items.total.get())
        count = record.tolerated_failure_count or 0
        percentage = record.tolerated_failure_percentage or 0.0
        if failed == 0 or (failed <= count or (percentage and failed * 100 / total <= percentage)):
            return
        if count == 0 and not percentage:
            error, cause = getattr(record, "ceap_first_failure", None) or (None, None)
            error_name: Any = CustomErrorName(error or "States.TaskFailed")
            cause = cause or f"{failed} of {total} child workflow executions failed"
        else:
            error_name = StatesErrorName(
                typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold
            )
            error = error_name.error_name
            cause = (
                f"{failed} of {total} child workflow executions failed, "
                "beyond the tolerated failure threshold"
            )
        env.stack.pop()  # the outputs map_run pushed
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=error_name,
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(
                    mapRunFailedEventDetails=MapRunFailedEventDetails(error=error, cause=cause)
                ),
            )
        )

    worker._eval_job = eval_job_recording_failure
    component._map_run = map_run_failing_on_failed_children


def _epoch_millis(value: Any) -> Any:
    """SDK timestamps as Step Functions puts them in task output (epoch milliseconds)."""
    if isinstance(value, dt.datetime):
        return value.timestamp() * 1000
    if isinstance(value, dict):
        return {k: _epoch_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(v) for v in value]
    return value


def _patch_sfn_glue_output() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue as glue_module,
    )

    service_glue = _require(glue_module, "StateTaskServiceGlue")
    original = _require(service_glue, "_sync_to_start_job_run")

    def sync_to_start_job_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        resolver = original(self, *args, **kwargs)
        return lambda: _epoch_millis(resolver())

    service_glue._sync_to_start_job_run = sync_to_start_job_run


# --------------------------------------------------------------------------- Lambda
def _function_spec(backend: Any, fn: Any) -> FunctionSpec:
    layers = []
    for layer in fn.layers:
        version = backend.layers_versions_by_arn(layer["Arn"])
        layers.append(LayerSpec(sha256=version.code_sha_256, code=_bytes_of(version)))
    logging_config = getattr(fn, "logging_config", None) or {}
    log_group = logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}"
    return FunctionSpec(
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        version=str(fn.version),
        handler=fn.handler or "",
        runtime=fn.run_time or "python3.11",
        timeout_s=int(fn.timeout or 3),
        memory_mb=int(fn.memory_size or 128),
        environment=FunctionSpec.freeze_environment(fn.environment_vars or {}),
        code_sha256=fn.code_sha_256,
        region=fn.region,
        log_group=log_group,
        layers=tuple(layers),
        code=_bytes_of(fn),
        role_arn=str(fn.role or ""),
    )


def _bytes_of(holder: Any) -> Callable[[], bytes]:
    return lambda: holder.code_bytes


def _patch_lambda() -> None:
    import base64

    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _require(LambdaSimpleBackend, "invoke")

    def invoke(  # noqa: PLR0917 (moto's signature)
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        fn = self.get_function(function_name, qualifier)
        spec = _function_spec(self, fn)
        payload = body if isinstance(body, bytes) else (body or "").encode("utf-8")
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        runtime = _hooks().lambda_runtime
        with _quota_errors():
            quotas.check_lambda_request(payload, invocation_type)
        response_headers["x-amz-executed-version"] = spec.version
        if invocation_type == "DryRun":
            return b""
        slot = _concurrency_slot(self, fn, wait=invocation_type == "Event")
        if invocation_type == "Event":
            waiting = threading.Thread(target=_invoke_in_slot, args=(slot, spec, payload))
            waiting.daemon = True
            waiting.start()
            return b""
        with _quota_errors(), slot:
            result = runtime.invoke(spec, payload)
        result_payload, function_error = result.payload, result.function_error
        too_large = quotas.lambda_response_error(result_payload)
        if too_large is not None:
            result_payload, function_error = too_large, "Unhandled"
        if function_error:
            response_headers["x-amz-function-error"] = function_error
        response_headers["x-amz-log-result"] = base64.b64encode(
            result.log_tail.encode("utf-8")
        ).decode("ascii")
        response_headers["Content-Length"] = str(len(result_payload))
        return result_payload

    LambdaSimpleBackend.invoke = invoke

    original_configuration = _require(LambdaFunction, "get_configuration")

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_configuration(self, on_create=False)
        config["State"] = "Active"
        config["LastUpdateStatus"] = "Successful"
        return config

    LambdaFunction.get_configuration = get_configuration
    _patch_lambda_prewarm()


def _patch_lambda_prewarm() -> None:
    """Start a function's execution environment when it is created or changed."""
    from moto.awslambda.models import LambdaBackend

    def prewarm_after(method_name: str) -> None:
        original = _require(LambdaBackend, method_name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            name = getattr(result, "function_name", None) or (args[0] if args else None)
            if isinstance(result, dict):
                name = result.get("FunctionName", name)
            with contextlib.suppress(Exception):
                fn = self.get_function(name, None)
                _hooks().lambda_runtime.prewarm(_function_spec(self, fn))
            return result

        setattr(LambdaBackend, method_name, wrapper)

    for method_name in ("create_function", "update_function_code", "update_function_configuration"):
        prewarm_after(method_name)


def _concurrency_slot(backend: Any, fn: Any, wait: bool) -> Any:
    """A slot of the account's concurrency for one invocation of ``fn`` (see :mod:`quotas`)."""
    reserved_total = sum(int(other.reserved_concurrency or 0) for other in backend.list_functions())
    reserved = fn.reserved_concurrency
    return _hooks().concurrency.slot(
        fn.function_name,
        None if reserved is None else int(reserved),
        reserved_total,
        wait=wait,
    )


def _invoke_in_slot(slot: Any, spec: FunctionSpec, payload: bytes) -> None:
    """An asynchronous invocation: waits for a slot (Lambda queues throttled events)."""
    with slot:
        _hooks().lambda_runtime.invoke(spec, payload)


@contextlib.contextmanager
def _quota_errors() -> Any:
    """A :class:`quotas.QuotaExceeded` as the service's JSON error response."""
    from moto.core.exceptions import JsonRESTError

    try:
        yield
    except quotas.QuotaExceeded as exc:
        error = JsonRESTError(exc.code, exc.message)
        error.code = exc.status
        error.description = exc.body()
        raise error from None


def _patch_quotas() -> None:
    """EventBridge PutEvents: the entries' size limit (Lambda and Step Functions limits
    are checked in their own patches above)."""
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    original_put_events = _require(EventsBackend, "put_events")

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            quotas.check_put_events(events)
        except quotas.QuotaExceeded as exc:
            raise ValidationException(exc.message) from None
        return original_put_events(self, events)

    EventsBackend.put_events = put_events
    _patch_dynamodb_item_size()
    _patch_lambda_invoke_response()
    _patch_dynamodb_item_responses()


def _patch_dynamodb_item_size() -> None:
    """400 KB = 409,600 bytes per item, names and values (moto 5.2.5 stops at 405,000);
    a new item is sized once, not once per attribute."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    _require(LimitedSizeDict, "__setitem__")
    _require(Item, "__init__")

    def size_of(item: Any) -> int:
        return int(item.size() if type(item) is DynamoType else bytesize(str(item)))

    def setitem(self: Any, key: str, value: Any) -> None:
        current = sum(size_of(k) + size_of(v) for k, v in self.items() if k != key)
        if current + bytesize(key) + size_of(value) > quotas.DYNAMODB_ITEM_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        # A new item's size is summed once: each __setitem__ above re-sizes every
        # attribute already set (as moto's own does), which made writing a 25-item
        # batch of scored candidates cost the server ~40 % of its time.
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            total += bytesize(key) + size_of(typed)
            dict.__setitem__(built, key, typed)
        if total > quotas.DYNAMODB_ITEM_BYTES:
            raise ItemSizeTooLarge
        self.attrs = built

    LimitedSizeDict.__setitem__ = setitem
    Item.__init__ = item_init


def _patch_dynamodb_item_responses() -> None:
    """Item operations' results written as JSON directly (see :mod:`item_json`)."""
    from moto.dynamodb.responses import DynamoHandler

    original = _require(DynamoHandler, "serialized")

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if self._get_action() in item_json.ITEM_OPERATIONS and not isinstance(result, Exception):
            try:
                body = item_json.dumps(result)
            except TypeError:
                return original(self, action_result)
            headers = {"Content-Type": item_json.CONTENT_TYPE, **self.response_headers}
            return 200, headers, body
        return original(self, action_result)

    DynamoHandler.serialized = serialized
    _patch_dynamodb_attribute_values()


def _patch_dynamodb_attribute_values() -> None:
    """Requests' AttributeValues read directly (see :func:`item_json.read_attribute_value`)."""
    from moto.core.parse import BaseJSONParser

    original = _require(BaseJSONParser, "_parse_structure")

    def parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue":
            read = item_json.read_attribute_value(value, self._blob_parser)
            if not item_json.is_unread(read):
                return read
        return original(self, shape, value)

    BaseJSONParser._parse_structure = parse_structure


def _patch_lambda_invoke_response() -> None:
    """Invoke's response as moto builds it, without moto's own size check.

    moto 5.2.5 replaces any response whose ``sys.getsizeof`` exceeds 6,000,000 with
    Function.ResponseSizeTooLarge; Lambda allows 6,291,556 bytes, which the invoke patch
    checks (:func:`quotas.lambda_response_error`).
    """
    from moto.awslambda.responses import LambdaResponse
    from moto.utilities.aws_headers import amz_crc32

    _require(LambdaResponse, "invoke")

    @amz_crc32
    def invoke(self: Any) -> tuple[int, dict[str, str], str | bytes]:
        from urllib.parse import unquote

        response_headers: dict[str, str] = {}
        function_name = unquote(self.path.rsplit("/", 2)[-2])
        qualifier = self._get_param("qualifier")
        payload = self.backend.invoke(
            function_name, qualifier, self.body, self.headers, response_headers
        )
        if payload is None:
            return 404, response_headers, "{}"
        response_headers["content-type"] = "application/json"
        invocation_type = self.headers.get("X-Amz-Invocation-Type")
        if invocation_type == "Event":
            response_headers["status"] = "202"
            return 202, response_headers, payload
        if invocation_type == "DryRun":
            response_headers["status"] = "204"
            return 204, response_headers, payload
        if self.headers.get("X-Amz-Log-Type") != "Tail":
            response_headers.pop("x-amz-log-result", None)
        return 200, response_headers, payload

    LambdaResponse.invoke = invoke


def lambda_log_sink(spec: FunctionSpec, stream: str, lines: list[tuple[int, str]]) -> None:
    account_id = spec.function_arn.split(":")[4]
    write_logs(
        account_id, spec.region, spec.log_group, stream, lines, writer_role=spec.role_arn or None
    )


# --------------------------------------------------------------------------- SQS
_SQS_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _compact_json(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps(value, separators=(",", ":"))


def _patch_sqs() -> None:
    from moto.sqs.models import Queue

    base = _require(Queue, "BASE_ATTRIBUTES")
    if "RedriveAllowPolicy" not in base:
        base.append("RedriveAllowPolicy")
    Queue.redrive_allow_policy = None
    original_set = _require(Queue, "_set_attributes")
    original_attributes = _require(Queue, "attributes")

    def set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        attributes = dict(attributes)
        kept_policy = getattr(self, "policy", None)
        allow = attributes.pop("RedriveAllowPolicy", _MISSING)
        original_set(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = kept_policy  # moto resets Policy on every SetQueueAttributes
        elif attributes["Policy"] in ("", None):
            self.policy = None
        if allow is not _MISSING:
            self.redrive_allow_policy = _compact_json(allow) if allow else None
        if attributes.get("KmsMasterKeyId") and "SqsManagedSseEnabled" not in attributes:
            self.sqs_managed_sse_enabled = False  # SSE-KMS replaces SSE-SQS, as on AWS

    def attributes(self: Any) -> dict[str, Any]:
        result = {
            key: value
            for key, value in original_attributes.fget(self).items()
            if value is not None and value != ""
        }
        if self.redrive_allow_policy:
            result["RedriveAllowPolicy"] = self.redrive_allow_policy
        for key in _SQS_JSON_ATTRIBUTES:
            if key in result:
                result[key] = _compact_json(result[key])
        return result

    original_init = _require(Queue, "__init__")

    def queue_init(self: Any, name: str, region: str, account_id: str, **kwargs: Any) -> None:
        original_init(self, name, region, account_id, **kwargs)
        if kwargs.get("KmsMasterKeyId") and "SqsManagedSseEnabled" not in kwargs:
            self.sqs_managed_sse_enabled = False

    Queue.__init__ = queue_init
    Queue._set_attributes = set_attributes
    Queue.attributes = property(attributes)
    _patch_sqs_message_moves()


_MISSING = object()


# --------------------------------------------------------------------------- S3
def _patch_s3() -> None:
    """Bucket policies with conditions evaluated (see :mod:`policies`)."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    _require(FakeBucket, "get_permission")
    results = {
        policies.DENIED: PermissionResult.DENIED,
        policies.PERMITTED: PermissionResult.PERMITTED,
        policies.NEUTRAL: PermissionResult.NEUTRAL,
    }

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return results[policies.evaluate(self.policy.decode(), action, resource)]

    FakeBucket.get_permission = get_permission


class _KeyLocks:
    """One lock per object key while requests write it (no lock kept for idle keys)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, bucket: str, key: str) -> Any:
        with self._guard:
            lock, users = self._held.get((bucket, key), (threading.Lock(), 0))
            self._held[(bucket, key)] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._held[(bucket, key)]
                if users == 1:
                    del self._held[(bucket, key)]
                else:
                    self._held[(bucket, key)] = (lock, users - 1)


def _patch_s3_conditional_writes() -> None:
    """Writes to one key are atomic, so a conditional write has exactly one winner.

    moto checks ``If-None-Match: *`` / ``If-Match`` and then writes, while the threaded
    server runs other requests in between: two writers with ``If-None-Match: *`` both
    succeeded (two concurrent CompleteMultipartUpload of one key: every time). S3 lets
    the first writer win and answers the others 412 PreconditionFailed
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html);
    Terraform's S3 backend relies on it for its lock file (``use_lockfile``: PutObject
    of ``<key>.tflock`` with ``If-None-Match: *``). Every write of a key (PutObject,
    CopyObject, CompleteMultipartUpload, DeleteObject) checks and writes under that
    key's lock; parts of a multipart upload still upload in parallel.
    """
    from moto.s3.responses import S3Response

    locks = _KeyLocks()

    def holding_key_lock(name: str) -> None:
        original = _require(S3Response, name)

        def write(self: Any) -> Any:
            with locks.hold(self.bucket_name, self.parse_key_name()):
                return original(self)

        setattr(S3Response, name, write)

    for name in ("put_object", "copy_object", "delete_object"):
        holding_key_lock(name)

    original_post = _require(S3Response, "_key_response_post")

    def key_response_post(  # noqa: PLR0917 (moto's signature)
        self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str
    ) -> Any:
        if not query.get("uploadId"):  # only CompleteMultipartUpload writes the key
            return original_post(self, request, body, bucket_name, query, key_name)
        with locks.hold(bucket_name, key_name):
            return original_post(self, request, body, bucket_name, query, key_name)

    S3Response._key_response_post = key_response_post


# --------------------------------------------------------------------------- Glue
_GLUE_JOB_FIELDS = {
    "Description": "description",
    "LogUri": "log_uri",
    "Role": "role",
    "ExecutionProperty": "execution_property",
    "Command": "command",
    "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments",
    "Connections": "connections",
    "MaxRetries": "max_retries",
    "AllocatedCapacity": "allocated_capacity",
    "Timeout": "timeout",
    "MaxCapacity": "max_capacity",
    "WorkerType": "worker_type",
    "NumberOfWorkers": "number_of_workers",
    "SecurityConfiguration": "security_configuration",
    "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version",
    "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
    "ExecutionClass": "execution_class",
    "SourceControlDetails": "source_control_details",
}


def _patch_glue() -> None:
    from moto.core.responses import ActionResult
    from moto.glue.models import FakeJob
    from moto.glue.responses import GlueResponse

    original_init = _require(FakeJob, "__init__")
    original_as_dict = _require(FakeJob, "as_dict")

    def job_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _apply_glue_defaults(self, explicit_execution_class=_execution_class_arg(args, kwargs))

    def job_as_dict(self: Any) -> dict[str, Any]:
        return {k: v for k, v in original_as_dict(self).items() if v not in (None, {}, [])}

    def update_job(self: Any) -> Any:
        """UpdateJob replaces the job definition, as Glue does."""
        name = self._get_param("JobName")
        update = self._get_param("JobUpdate") or {}
        job = self.glue_backend.get_job(name)
        for key, attribute in _GLUE_JOB_FIELDS.items():
            setattr(job, attribute, update.get(key))
        job.default_arguments = job.default_arguments or {}
        _apply_glue_defaults(job, explicit_execution_class=update.get("ExecutionClass"))
        job.last_modified_on = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return ActionResult({"JobName": name})

    FakeJob.__init__ = job_init
    FakeJob.as_dict = job_as_dict
    GlueResponse.update_job = update_job
    _patch_glue_runs()


def _patch_glue_runs() -> None:
    from moto.glue.models import FakeJob, FakeJobRun

    original_start = _require(FakeJob, "start_job_run")
    original_run_as_dict = _require(FakeJobRun, "as_dict")

    def start_job_run(self: Any, **kwargs: Any) -> str:
        run_id = original_start(self, **kwargs)
        run = next(r for r in self.job_runs if r.job_run_id == run_id)
        run.status = "STARTING"
        run.ceap_error = None
        run.ceap_completed = None
        run.ceap_glue_version = self.glue_version
        account_id, region = self.backend.account_id, self.backend.region_name
        spec = GlueRunSpec(
            job_name=self.name,
            run_id=run_id,
            script_location=(self.command or {}).get("ScriptLocation", ""),
            arguments=dict(run.arguments or {}),
            timeout_minutes=int(run.timeout or self.timeout or 2880),
            region=region,
            role_arn=_role_arn(account_id, str(self.role or "")) if self.role else "",
            job_arn=f"arn:aws:glue:{region}:{account_id}:job/{self.name}",
        )

        def on_state(state: str, error: str | None) -> None:
            run.modified_on = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if error:
                run.ceap_error = error
            if state in _GLUE_TERMINAL_STATES:
                run.ceap_completed = run.modified_on
            run.status = state

        def on_logs(group: str, stream: str, lines: list[tuple[int, str]]) -> None:
            write_logs(account_id, region, group, stream, lines)

        _hooks().glue_runner.start(spec, on_state, on_logs)
        return run_id

    def run_as_dict(self: Any) -> dict[str, Any]:
        result = original_run_as_dict(self)
        completed = getattr(self, "ceap_completed", None)
        result["GlueVersion"] = getattr(self, "ceap_glue_version", None) or "5.0"
        result["LogGroupName"] = "/aws-glue/jobs"
        if completed is not None:
            result["CompletedOn"] = completed
            result["ExecutionTime"] = int((completed - self.started_on).total_seconds())
        else:
            result.pop("CompletedOn", None)
            result["ExecutionTime"] = 0
        if getattr(self, "ceap_error", None):
            result["ErrorMessage"] = self.ceap_error
        return result

    FakeJob.start_job_run = start_job_run
    FakeJobRun.as_dict = run_as_dict


_GLUE_TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"})


def _execution_class_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if "execution_class" in kwargs:
        return kwargs["execution_class"]
    # FakeJob(name, role, command, ..., code_gen_configuration_nodes, execution_class, ...)
    return args[20] if len(args) > 20 else None


def _apply_glue_defaults(job: Any, explicit_execution_class: Any) -> None:
    """Defaults as Glue fills them, and nothing Glue does not return."""
    if not explicit_execution_class:
        job.execution_class = None
    if job.timeout is None:
        job.timeout = 2880
    if job.max_retries is None:
        job.max_retries = 0
    if job.worker_type and job.number_of_workers:
        job.max_capacity = glue_dpus(job.worker_type, job.number_of_workers)
        job.allocated_capacity = int(job.max_capacity)
    if isinstance(job.command, dict) and job.command.get("Name") in ("glueetl", "gluestreaming"):
        job.command.setdefault("PythonVersion", "3")
    if not job.execution_property:
        job.execution_property = {"MaxConcurrentRuns": 1}


# --------------------------------------------------------------------------- Step Functions redrive
#: How long a failed execution stays redrivable (RedriveExecution API reference).
REDRIVABLE_DAYS = 14
_REDRIVABLE_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def _redrive_refusal(execution: Any) -> str | None:
    """Why the execution cannot be redriven (AWS's redriveStatusReason), or None."""
    status = getattr(execution.exec_status, "value", execution.exec_status)
    if execution.sm_type == "EXPRESS":
        return "Execution is of an EXPRESS state machine and cannot be redriven."
    if status not in _REDRIVABLE_STATUSES:
        return f"Execution is {status} and cannot be redriven."
    if dt.datetime.now(dt.UTC) - execution.start_date > dt.timedelta(days=REDRIVABLE_DAYS):
        return "Execution redrivable period exceeded."
    if execution.exec_worker is None or execution.exec_worker.env is None:
        return "Execution has no history to redrive from."
    return None


def _redrive(execution: Any) -> dt.datetime:
    """Resume the execution at the state it failed in (the last state entered), with that
    state's input, appending to its history as Step Functions does."""
    from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.utils import TMP_THREADS

    worker = execution.exec_worker
    env = worker.env
    history = env.event_manager.get_event_history()
    entered = [
        e for e in history if str(getattr(e["type"], "value", e["type"])).endswith("StateEntered")
    ]
    details = entered[-1]["stateEnteredEventDetails"]
    definition = json.loads(execution.state_machine.definition)
    definition["StartAt"] = details["name"]
    program = AmazonStateLanguageParser.parse(json.dumps(definition))[0]
    count = int(getattr(execution, "ceap_redrive_count", 0)) + 1
    redriven_at = dt.datetime.now(dt.UTC)
    with env._state_mutex:
        env._program_state = None
        env.program_state_event.clear()
    env.states.reset(json.loads(details.get("input") or "null"))
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionRedriven,
        event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": count}),
    )
    execution.ceap_redrive_count = count
    execution.ceap_redrive_date = redriven_at
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None

    def resume() -> None:
        program.eval(env)  # from the new StartAt; the execution timeout starts again
        worker._execution_communication.terminated()

    thread = threading.Thread(target=resume, name=f"redrive-{execution.name}", daemon=True)
    TMP_THREADS.append(thread)
    thread.start()
    return redriven_at


def _patch_sfn_redrive() -> None:
    """RedriveExecution and the redrive fields of DescribeExecution
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html)."""
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    class ExecutionNotRedrivable(AWSError):
        TYPE = "ExecutionNotRedrivable"
        STATUS = 400

    def redrive_execution(self: Any) -> Any:
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        refusal = _redrive_refusal(execution)
        if refusal is not None:
            raise ExecutionNotRedrivable(refusal)
        return ActionResult({"redriveDate": _redrive(execution)})

    original_describe = _require(StepFunctionResponse, "describe_execution")

    def describe_execution(self: Any) -> Any:
        body = dict(original_describe(self).result)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        body["redriveCount"] = int(getattr(execution, "ceap_redrive_count", 0))
        if getattr(execution, "ceap_redrive_date", None) is not None:
            body["redriveDate"] = execution.ceap_redrive_date
        if execution.sm_type != "EXPRESS":
            refusal = _redrive_refusal(execution)
            body["redriveStatus"] = "REDRIVABLE" if refusal is None else "NOT_REDRIVABLE"
            if refusal is not None:
                body["redriveStatusReason"] = refusal
        return ActionResult(body)

    listing = _require(StepFunctionResponse, "list_executions")

    def list_executions(self: Any) -> Any:
        body = dict(listing(self).result)
        for item in body.get("executions", []):
            execution = self.stepfunction_backend.describe_execution(item["executionArn"])
            item["redriveCount"] = int(getattr(execution, "ceap_redrive_count", 0))
            if getattr(execution, "ceap_redrive_date", None) is not None:
                item["redriveDate"] = execution.ceap_redrive_date
        return ActionResult(body)

    StepFunctionResponse.redrive_execution = redrive_execution
    StepFunctionResponse.describe_execution = describe_execution
    StepFunctionResponse.list_executions = list_executions


# --------------------------------------------------------------------------- SQS message moves
def _patch_sqs_message_moves() -> None:
    """StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask (moto 5.2.5 has
    none), validated here with AWS's errors and run by :class:`sqs_moves.MessageMover`
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html)."""
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException
    from moto.sqs.responses import SQSResponse

    def queue_of(self: Any, arn: str | None, parameter: str) -> Any:
        name = (arn or "").rsplit(":", 1)[-1]
        queue = self.sqs_backend.queues.get(name) if name else None
        if queue is None or queue.queue_arn != arn:
            raise SQSException(
                "ResourceNotFoundException",
                f"The resource that you specified for the {parameter} parameter doesn't exist.",
            )
        return queue

    def start_message_move_task(self: Any) -> Any:
        source_arn = self._get_param("SourceArn")
        source = queue_of(self, source_arn, "SourceArn")
        feeding = self.sqs_backend.list_dead_letter_source_queues(source.name)
        if not feeding:
            raise SQSException(
                "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue."
            )
        destination_arn = self._get_param("DestinationArn")
        if destination_arn:
            queue_of(self, destination_arn, "DestinationArn")
        elif len(feeding) == 1:
            destination_arn = feeding[0].queue_arn
        else:  # AWS sends each message back to its own source; locally that is not tracked
            raise SQSException(
                "InvalidParameterValue",
                "The local cloud needs DestinationArn for a dead-letter queue of several queues.",
            )
        rate = self._get_param("MaxNumberOfMessagesPerSecond")
        if rate is not None and not 1 <= int(rate) <= 500:
            raise SQSException(
                "InvalidParameterValue", "MaxNumberOfMessagesPerSecond must be between 1 and 500."
            )
        try:
            task = _hooks().message_mover.start(
                source_arn,
                destination_arn,
                explicit=bool(self._get_param("DestinationArn")),
                rate=int(rate) if rate is not None else None,
            )
        except MoveTaskError as exc:
            raise SQSException(exc.code, exc.message) from None
        return ActionResult({"TaskHandle": task.handle})

    def list_message_move_tasks(self: Any) -> Any:
        source_arn = self._get_param("SourceArn")
        queue_of(self, source_arn, "SourceArn")
        limit = int(self._get_param("MaxResults") or 1)
        if not 1 <= limit <= 10:
            raise SQSException("InvalidParameterValue", "MaxResults must be between 1 and 10.")
        return ActionResult({"Results": _hooks().message_mover.list(source_arn, limit)})

    def cancel_message_move_task(self: Any) -> Any:
        try:
            task = _hooks().message_mover.cancel(self._get_param("TaskHandle") or "")
        except MoveTaskError as exc:
            raise SQSException(exc.code, exc.message) from None
        return ActionResult({"ApproximateNumberOfMessagesMoved": task.moved})

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks
    SQSResponse.cancel_message_move_task = cancel_message_move_task


# --------------------------------------------------------------------------- IAM + KMS
def enable_iam(sessions: RoleSessions | None, soft: bool = False) -> None:
    """Enforce IAM and KMS (``sessions`` given) or not (None): see :mod:`iam_enforcement`.
    ``soft``: evaluate and log what would be denied, deny nothing (to diagnose a stack)."""
    _state["iam"] = sessions
    _state["iam_soft"] = soft


def iam_enabled() -> bool:
    return _state.get("iam") is not None


def assume_role(role_arn: str, session_name: str) -> dict[str, str]:
    """STS AssumeRole as the service that uses the role does it (no caller to authorize)."""
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    role = sts_backends[account]["global"].assume_role(
        region_name="us-east-1",
        role_session_name=session_name,
        role_arn=role_arn,
        policy=None,
        duration=3600,
        external_id=None,
    )
    return {
        "AccessKeyId": role.access_key_id,
        "SecretAccessKey": role.secret_access_key,
        "SessionToken": role.session_token,
    }


def role_trust_policy(role_arn: str) -> str | None:
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    try:
        return str(
            iam_backends[account]["global"].get_role_by_arn(role_arn).assume_role_policy_document
        )
    except Exception:  # no such role
        return None


def _role_arn(account: str, role: str) -> str:
    if role.startswith("arn:"):
        return role
    from moto.iam.models import iam_backends

    try:
        return str(iam_backends[account]["global"].get_role(role).arn)
    except Exception:
        return f"arn:aws:iam::{account}:role/{role}"


def _state_machine_of_role(role_arn: str) -> str | None:
    """The state machine that uses a role (Step Functions passes it as aws:SourceArn)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    account = role_arn.split(":")[4]
    for region in list(stepfunctions_parser_backends[account].keys()):
        backend = stepfunctions_parser_backends[account][region]
        for machine in list(getattr(backend, "state_machines", [])):
            if getattr(machine, "roleArn", None) == role_arn:
                return str(machine.arn)
    return None


def role_session_credentials(role_arn: str, service: str, source_arn: str | None = None) -> Any:
    """A role's session credentials (env form), or None when IAM is not enforced."""
    sessions: RoleSessions | None = _state.get("iam")
    if sessions is None:
        return None
    return sessions.credentials(role_arn, service, source_arn)


def _patch_iam() -> None:
    """Every request of an STS session or IAM user is authorized (moto authenticates it:
    key, session token, signature); the administrator's are not."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    _require(ActionAuthenticatorMixin, "_authenticate_and_authorize_action")

    def issued_key(account: str, access_key_id: str) -> bool:
        if any(
            r.access_key_id == access_key_id for r in sts_backends[account]["aws"].assumed_roles
        ):
            return True
        users = iam_backends[account]["global"].users.values()
        return any(k.access_key_id == access_key_id for u in users for k in u.access_keys)

    def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if not iam_enabled():
            return
        authorization = self.headers.get("Authorization") or ""
        if "Credential=" not in authorization:
            return  # unsigned: only moto's own (bucket policy, ACL) checks apply
        access_key_id = authorization.partition("Credential=")[2].partition("/")[0]
        if not issued_key(self.current_account, access_key_id):
            return  # the administrator of the local account
        parsed_url = urlparse(self.uri)
        path = self.raw_path + ("?" + parsed_url.query if parsed_url.query else "")
        iam_request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        iam_request.check_signature()
        access_key = iam_request._access_key
        role_name = getattr(access_key, "_owner_role_name", None)
        caller = policies.Caller(
            arn=access_key.arn,
            account=self.current_account,
            role_arn=_role_arn(self.current_account, role_name) if role_name else None,
        )
        identity = [IAMPolicy(p)._policy_json for p in access_key.collect_policies()]
        service_request = _service_request(self, iam_request, resource)
        if service_request.service == "sts" and service_request.operation == "GetCallerIdentity":
            return  # always allowed, as on AWS
        required = iam_enforcement.needs(service_request, caller)
        required += _kms_needs(service_request)
        missing = iam_enforcement.missing_object_need(service_request, caller)
        if missing is not None and _s3_object_missing(service_request):
            required.append(missing)
        for need in required:
            resource_policy, key_policy = _resource_policy(service_request, need.resource)
            decision = iam_enforcement.decide(need, caller, identity, resource_policy, key_policy)
            if not decision.allowed:
                message = iam_enforcement.denial_message(caller, need, decision)
                if _state.get("iam_soft"):
                    LOG.warning("would deny: %s", message)
                    continue
                _deny(service_request, message)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize
    _patch_sfn_role_clients()
    _patch_log_group_keys()


def _patch_log_group_keys() -> None:
    """A log group encrypted with a KMS key is created only if the key's policy lets
    CloudWatch Logs (``logs.REGION.amazonaws.com``) use it for that group, as AWS checks
    at CreateLogGroup/AssociateKmsKey, whoever the caller is
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html):
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` with the encryption context
    ``aws:logs:arn`` = the group's ARN; else AWS's ``InvalidParameterException``."""
    from moto.logs.exceptions import InvalidParameterException
    from moto.logs.models import LogsBackend

    original = _require(LogsBackend, "create_log_group")

    def create_log_group(self: Any, log_group_name: str, tags: Any, **kwargs: Any) -> Any:
        key_id = kwargs.get("kmsKeyId")
        if key_id and iam_enabled():
            message = _log_group_key_refusal(
                self.account_id, self.region_name, log_group_name, key_id
            )
            if message is not None:
                if not _state.get("iam_soft"):
                    LOG.info("refused: %s", message)
                    raise InvalidParameterException(msg=message)
                LOG.warning("would refuse: %s", message)
        return original(self, log_group_name, tags, **kwargs)

    LogsBackend.create_log_group = create_log_group


def _log_group_key_refusal(account: str, region: str, group: str, key_id: str) -> str | None:
    """AWS's message when CloudWatch Logs may not use the key for the group, else None."""
    group_arn = (
        f"arn:{iam_enforcement.partition_of(region)}:logs:{region}:{account}:log-group:{group}"
    )
    refusal = (
        f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"
    )
    key_arn = _kms_key_arn(account, region, key_id)
    if key_arn is None:
        return refusal
    logs = policies.Caller(arn=f"logs.{region}.amazonaws.com", account=account, service=True)
    context = {"aws:securetransport": "true", "kms:encryptioncontext:aws:logs:arn": group_arn}
    from moto.kms.models import kms_backends

    key_policy = kms_backends[account][region].describe_key(key_arn).policy
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        need = Need(action, key_arn, context)
        if not iam_enforcement.decide(need, logs, [], key_policy, key_policy=True).allowed:
            return refusal
    return None


def _service_request(response: Any, iam_request: Any, resource: str) -> ServiceRequest:
    service, _, operation = iam_request._action.partition(":")
    content_type = response.headers.get("Content-Type") or ""
    params: dict[str, Any]
    if "json" in content_type and service != "s3":
        parsed = iam_enforcement.parse_json(response.body)
        params = parsed if isinstance(parsed, dict) else {}
    else:
        params = {
            k: v[0] if isinstance(v, list) and len(v) == 1 else v
            for k, v in response.querystring.items()
        }
    if service == "lambda":
        params = {**params, **{k: v[0] for k, v in response.querystring.items() if v}}
    bucket = key = None
    if service == "s3" and resource.startswith("arn:") and resource != "arn:aws:s3:::*":
        bucket, _, key = resource.split(":::", 1)[1].partition("/")
    if service == "s3" and "delete" in response.querystring and response.method == "POST":
        # DeleteObjects is authorized as s3:DeleteObject on each key it names.
        body = response.raw_body or b""
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        params = {**params, "delete_keys": _xml_keys(text)}
    return ServiceRequest(
        service=service,
        operation=operation,
        params=params,
        path=response.raw_path or response.path,
        region=iam_request._region,
        account=response.current_account,
        bucket=bucket or None,
        key=key or None,
    )


def _xml_keys(text: str) -> list[str]:
    import re
    from xml.sax.saxutils import unescape

    return [unescape(k) for k in re.findall(r"<Key>(.*?)</Key>", text, flags=re.S)]


def _s3_object_missing(request: ServiceRequest) -> bool:
    """The bucket exists and the key has no current object (none, or a delete marker)."""
    from moto.s3.models import FakeDeleteMarker, s3_backends

    bucket = s3_backends[request.account]["aws"].buckets.get(request.bucket or "")
    if bucket is None:
        return False  # NoSuchBucket is the answer, whoever asks
    stored = bucket.keys.get(request.key or "")
    return stored is None or isinstance(stored, FakeDeleteMarker)


def _kms_key_arn(account: str, region: str, key_id: str | None) -> str | None:
    from moto.kms.models import kms_backends

    if not key_id:
        return None
    try:
        return str(kms_backends[account][region].describe_key(key_id).arn)
    except Exception:
        return None


def _kms_needs(request: ServiceRequest) -> list[Need]:
    """What the service asks KMS for on the caller's behalf (SSE-KMS data)."""
    if request.service == "s3" and request.bucket and request.key:
        return _s3_kms_needs(request)
    if request.service == "sqs" and request.operation in (
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
    ):
        from moto.sqs.models import sqs_backends

        arn = iam_enforcement.queue_arn(
            str(request.params.get("QueueUrl", "")), request.region, request.account
        )
        queue = sqs_backends[request.account][request.region].queues.get(arn.rsplit(":", 1)[-1])
        key_arn = _kms_key_arn(
            request.account, request.region, getattr(queue, "kms_master_key_id", None)
        )
        if key_arn is None:
            return []
        action = "kms:Decrypt" if request.operation == "ReceiveMessage" else "kms:GenerateDataKey"
        return [
            iam_enforcement.kms_need(action, key_arn, "sqs", request.region, {"aws:sqs:arn": arn})
        ]
    return []


def _s3_kms_needs(request: ServiceRequest) -> list[Need]:
    from moto.s3.models import s3_backends

    backend = s3_backends[request.account]["aws"]
    bucket = backend.buckets.get(request.bucket)
    if bucket is None:
        return []
    default = (bucket.encryption or {}).get("Rule") or {}
    if isinstance(default, list):
        default = default[0] if default else {}
    by_default = default.get("ApplyServerSideEncryptionByDefault") or {}
    bucket_key = str(default.get("BucketKeyEnabled", "")).lower() == "true"
    partition = iam_enforcement.partition_of(request.region)
    operation = request.operation
    if operation == "PutObject":
        action, key_id = "kms:GenerateDataKey", None
        if by_default.get("SSEAlgorithm") == "aws:kms":
            key_id = by_default.get("KMSMasterKeyID")
    elif operation == "GetObject":
        action = "kms:Decrypt"
        stored = bucket.keys.get(request.key)
        key_id = None
        if stored is not None and getattr(stored, "encryption", None) == "aws:kms":
            key_id = stored.kms_key_id
        elif stored is not None and by_default.get("SSEAlgorithm") == "aws:kms":
            key_id = by_default.get("KMSMasterKeyID")
    else:
        return []
    key_arn = _kms_key_arn(request.account, request.region, key_id)
    if key_arn is None:
        return []
    target = f"arn:{partition}:s3:::{request.bucket}"
    if not bucket_key:
        target += f"/{request.key}"
    return [iam_enforcement.kms_need(action, key_arn, "s3", request.region, {"aws:s3:arn": target})]


def _resource_policy(request: ServiceRequest, resource: str) -> tuple[Any, bool]:
    """The resource's policy (document or None) and whether it is a KMS key policy."""
    account, region = request.account, request.region
    try:
        if resource.startswith("arn:aws:kms:") or ":kms:" in resource:
            from moto.kms.models import kms_backends

            region = resource.split(":")[3]
            return kms_backends[account][region].describe_key(resource).policy, True
        if ":s3:::" in resource:
            from moto.s3.models import s3_backends

            bucket = s3_backends[account]["aws"].buckets.get(
                resource.split(":::", 1)[1].split("/", maxsplit=1)[0]
            )
            policy = getattr(bucket, "policy", None)
            return (policy.decode() if isinstance(policy, bytes) else policy), False
        if ":sqs:" in resource:
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[account][resource.split(":")[3]].queues.get(
                resource.rsplit(":", 1)[-1]
            )
            return getattr(queue, "policy", None), False
        if ":lambda:" in resource:
            from moto.awslambda.models import lambda_backends

            name = resource.split(":")[6]
            return lambda_backends[account][resource.split(":")[3]].get_policy(name), False
    except Exception:  # no such resource, or no policy: the service answers for itself
        return None, False
    return None, False


def _deny(request: ServiceRequest, message: str) -> None:
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    code, status = iam_enforcement.denial_error(request.service)
    LOG.info("denied: %s", message)
    if request.service == "s3":
        from moto.s3.exceptions import S3AccessDeniedError

        s3_error = S3AccessDeniedError()
        s3_error.message = message
        raise s3_error
    if request.service in ("sts", "iam", "sns"):
        xml = AccessDeniedError(user_arn="", action="")
        xml.description = xml.description.replace(
            "<Message>User:  is not authorized to perform: </Message>",
            f"<Message>{_xml_escape(message)}</Message>",
        ).replace("<Code>AccessDenied</Code>", f"<Code>{code}</Code>")
        raise xml
    json_error = JsonRESTError(code, message)
    json_error.code = status
    raise json_error


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _patch_sfn_role_clients() -> None:
    """The state machine's integrations call the services with its role's session."""
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue,
    )

    original = _require(lambda_eval_utils, "boto_client_for")

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not iam_enabled() or not role_arn:
            return original(region=region, service=service, state_credentials=state_credentials)
        source = _state_machine_of_role(role_arn)
        credentials = role_session_credentials(role_arn, "states", source)
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=f"http://localhost:{_moto_port()}",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=600,
                read_timeout=600,
            ),
        )

    lambda_eval_utils.boto_client_for = boto_client_for
    _require(state_task_service_glue, "boto_client_for")
    state_task_service_glue.boto_client_for = boto_client_for


def _moto_port() -> str:
    import os

    return os.environ.get("MOTO_PORT", "5000")


# --------------------------------------------------------------------------- SNS
_SNS_CONFIRM_LOCK = threading.Lock()


def apply_sns_delivery(deliverer: Any) -> None:
    """SNS HTTP(S)/email subscriptions confirm first and deliver in the background
    (see :mod:`sns_delivery`). Call once after :func:`apply`."""
    check_moto_version()
    with _applied:
        _state["sns_deliverer"] = deliverer
        if _state.get("sns_applied"):
            return
        _patch_sns()
        _state["sns_applied"] = True


def _patch_sns() -> None:
    from moto.core.responses import ActionResult
    from moto.sns.exceptions import SNSInvalidParameter, SNSNotFoundError
    from moto.sns.models import SNSBackend, Subscription
    from moto.sns.responses import SNSResponse

    original_subscribe = _require(SNSBackend, "subscribe")
    original_publish = _require(Subscription, "publish")
    original_unsubscribe = _require(SNSBackend, "unsubscribe")
    _require(SNSResponse, "confirm_subscription")
    _require(Subscription, "get_post_data")

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        deliverer = _state["sns_deliverer"]
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if existing is None and deliverer.needs_confirmation(protocol):
            subscription.attributes["PendingConfirmation"] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
            subscription.confirmed = False
            deliverer.request_confirmation(topic_arn, subscription.arn, protocol, endpoint)
        return subscription

    def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        deliverer = _state["sns_deliverer"]
        if not deliverer.needs_confirmation(self.protocol):
            return original_publish(self, message, message_id, *args, **kwargs)
        names = (
            "subject",
            "message_attributes",
            "group_id",
            "deduplication_id",
            "message_structure",
        )
        call = dict(zip(names, args, strict=False)) | kwargs
        subject, message_attributes = call.get("subject"), call.get("message_attributes")
        message_structure = call.get("message_structure")
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if self.attributes.get("PendingConfirmation") in (True, "true"):
            return None  # SNS delivers nothing before the endpoint confirms
        raw = str(self.attributes.get("RawMessageDelivery", "false")).lower() == "true"
        policy = self.attributes.get("DeliveryPolicy") or self.topic.delivery_policy or None
        deliverer.deliver(
            protocol=self.protocol,
            endpoint=self.endpoint,
            topic_arn=self.topic.arn,
            subscription_arn=self.arn,
            message=message,
            message_id=message_id,
            subject=subject,
            raw=raw,
            delivery_policy=json.loads(policy) if isinstance(policy, str) and policy else None,
            envelope=self.get_post_data(message, message_id, subject),
        )
        return None

    def unsubscribe(self: Any, subscription_arn: str) -> None:
        _state["sns_deliverer"].forget(subscription_arn)
        original_unsubscribe(self, subscription_arn)

    def confirm_subscription(self: Any) -> Any:
        topic_arn = self._get_param("TopicArn")
        if topic_arn not in self.backend.topics:
            raise SNSNotFoundError("Topic does not exist")
        authenticate = str(self._get_param("AuthenticateOnUnsubscribe") or "false").lower()
        arn = _confirm(self.backend, topic_arn, self._get_param("Token") or "", authenticate)
        if arn is None:
            raise SNSInvalidParameter("Invalid parameter: Token")
        return ActionResult({"SubscriptionArn": arn})

    SNSBackend.subscribe = subscribe
    SNSBackend.unsubscribe = unsubscribe
    Subscription.publish = publish
    SNSResponse.confirm_subscription = confirm_subscription


def _confirm(backend: Any, topic_arn: str, token: str, authenticate: str = "false") -> str | None:
    from ceap_tf.localcloud.sns_delivery import ConfirmationError

    try:
        pending = _state["sns_deliverer"].confirm(topic_arn, token)
    except ConfirmationError:
        return None
    with _SNS_CONFIRM_LOCK:
        subscription = backend.subscriptions.get(pending.subscription_arn)
        if subscription is None:
            return None
        subscription.attributes["PendingConfirmation"] = False
        subscription.attributes["ConfirmationWasAuthenticated"] = authenticate == "true"
        subscription.confirmed = True
    return str(subscription.arn)


def confirm_sns_subscription(topic_arn: str, token: str) -> str | None:
    """What visiting a SubscribeURL does: the confirmed subscription's ARN, or None for
    an unknown topic or token."""
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    if len(parts) < 6:
        return None
    backend = sns_backends[parts[4]][parts[3]]
    if topic_arn not in backend.topics:
        return None
    return _confirm(backend, topic_arn, token)


# --------------------------------------------------------------------------- CloudWatch
def apply_alarm_actions(notifier: Any) -> None:
    """A changed alarm state runs the alarm's SNS actions (see :mod:`alarm_actions`)."""
    check_moto_version()
    with _applied:
        _state["alarm_notifier"] = notifier
        if _state.get("alarm_actions_applied"):
            return
        _patch_alarm_actions()
        _state["alarm_actions_applied"] = True


def _patch_alarm_actions() -> None:
    from moto.cloudwatch.models import Alarm

    from ceap_tf.localcloud.alarm_actions import AlarmChange

    original = _require(Alarm, "update_state")

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old = self.state_value
        original(self, reason, reason_data, state_value)
        if not getattr(self, "actions_enabled", True):
            return
        arn = str(self.alarm_arn)
        _state["alarm_notifier"].state_changed(
            AlarmChange(
                name=self.name,
                arn=arn,
                description=self.description,
                account=arn.split(":")[4],
                region=arn.split(":")[3],
                old_state=old,
                new_state=state_value,
                reason=reason,
                changed_at=self.state_updated_timestamp.isoformat(),
                alarm_actions=tuple(self.alarm_actions or ()),
                ok_actions=tuple(self.ok_actions or ()),
                insufficient_data_actions=tuple(self.insufficient_data_actions or ()),
            )
        )

    Alarm.update_state = update_state
