"""The local cloud server: moto's server with ceap-tf's gaps closed.

Run as ``python -m ceap_tf.localcloud.server --port N --state-dir DIR`` (normally by
:class:`ceap_tf.localcloud.LocalCloud`). Besides every AWS API moto serves it answers

- ``GET /_ceap/health``: ``{"status": "ok", "pid", "moto", "uptime_s", "lambda_workers",
  "lambda_concurrency"}`` (the account's Lambda concurrency limit, see :mod:`quotas`)
- ``GET|POST|DELETE /_ceap/faults``: list, add (JSON rule, see :mod:`faults`) or clear
  fault-injection rules.
- ``GET /_ceap/sns/confirm?TopicArn=...&Token=...``: an SNS SubscribeURL (:mod:`sns_delivery`).
- ``POST /_ceap/budgets/spend``: set a budget's actual and forecast spend (:mod:`budgets`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ceap_tf.localcloud.faults import (
    FaultRegistry,
    FaultRule,
    FaultRuleError,
    StartResponse,
    WsgiApp,
    describe_request,
    error_response,
)
from ceap_tf.localcloud.identity import LOCAL_CREDENTIALS, LOCAL_REGION

HEALTH_PATH = "/_ceap/health"
FAULTS_PATH = "/_ceap/faults"
REGION = LOCAL_REGION


class CeapMiddleware:
    """Serves the ``/_ceap`` endpoints and injects faults in front of moto."""

    def __init__(self, app: WsgiApp, faults: FaultRegistry, health: Any) -> None:
        self._app = app
        self._faults = faults
        self._health = health

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return _json(start_response, "200 OK", self._health())
        if path == FAULTS_PATH:
            return self._faults_endpoint(environ, start_response)
        if self._faults.active():
            request = describe_request(environ)
            delay = self._faults.latency(request)
            if delay:
                time.sleep(delay)
            rule = self._faults.take(request)
            if rule is not None and rule.delay:
                time.sleep(rule.delay)
            if rule is not None and rule.fail:
                status, headers, body = error_response(rule, request)
                start_response(status, headers)
                return [body]
        return self._app(environ, start_response)

    def _faults_endpoint(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return _json(start_response, "200 OK", {"rules": self._faults.list()})
        if method == "DELETE":
            self._faults.clear()
            return _json(start_response, "200 OK", {"rules": []})
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                data = json.loads(environ["wsgi.input"].read(length) or b"null")
                rule = self._faults.add(FaultRule.from_json(data))
            except (ValueError, TypeError, FaultRuleError) as exc:
                return _json(start_response, "400 Bad Request", {"error": str(exc)})
            return _json(start_response, "201 Created", {"rule": rule.id})
        return _json(start_response, "405 Method Not Allowed", {"error": method})


def _json(start_response: StartResponse, status: str, body: Any) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


#: Read-only calls that make moto load each service a deployment uses (its request
#: routing and botocore model: up to ~1 s each) before the first real request.
WARM_UP_CALLS = (
    ("sts", "get_caller_identity"),
    ("iam", "list_roles"),
    ("s3", "list_buckets"),
    ("lambda", "list_functions"),
    ("stepfunctions", "list_state_machines"),
    ("sqs", "list_queues"),
    ("kms", "list_keys"),
    ("logs", "describe_log_groups"),
    ("dynamodb", "list_tables"),
)


def _warm_up(endpoint: str) -> None:
    from botocore.config import Config

    from ceap_tf.localcloud.clients import local_client

    config = Config(retries={"total_max_attempts": 10, "mode": "standard"})
    for service, operation in WARM_UP_CALLS:
        try:
            getattr(local_client(service, endpoint, REGION, config), operation)()
        except Exception as exc:  # only a head start; real requests report real errors
            logging.getLogger("ceap_tf.localcloud").debug("warm-up %s: %s", service, exc)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ceap_tf.localcloud.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--iam",
        choices=("on", "off", "soft"),
        default=None,
        help="enforce IAM and KMS (default: on, or $CEAP_LOCAL_IAM)",
    )
    return parser.parse_args(argv)


def _roadmap_services(moto_app: Any, state_dir: Path, endpoint: str) -> Any:
    """moto's app behind SNS confirmation and HTTP(S)/email delivery, CloudWatch alarm
    actions and AWS Budgets (sns_delivery, alarm_actions, budgets)."""
    from ceap_tf.localcloud import moto_patches
    from ceap_tf.localcloud.alarm_actions import AlarmNotifier
    from ceap_tf.localcloud.budgets import BudgetsApp, BudgetsService, mail_writer, sns_publisher
    from ceap_tf.localcloud.sns_delivery import ConfirmApp, SnsDeliverer

    moto_patches.apply_sns_delivery(SnsDeliverer(state_dir, endpoint, REGION))
    moto_patches.apply_alarm_actions(AlarmNotifier(endpoint, REGION))
    budget_service = BudgetsService(sns_publisher(endpoint, REGION), mail_writer(state_dir))
    return BudgetsApp(ConfirmApp(moto_app, moto_patches.confirm_sns_subscription), budget_service)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    endpoint = f"http://{args.host}:{args.port}"
    # moto reads these when it builds clients that call back into this server.
    os.environ["MOTO_PORT"] = str(args.port)
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    os.environ.update(
        {key: LOCAL_CREDENTIALS[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from ceap_tf.localcloud import iam_enforcement, moto_patches, quotas
    from ceap_tf.localcloud.glue_job_runs import GlueRunner
    from ceap_tf.localcloud.lambda_runtime import LambdaRuntime
    from ceap_tf.localcloud.pipes import PipePoller
    from ceap_tf.localcloud.sqs_moves import MessageMover

    try:
        moto_patches.check_moto_version()
    except moto_patches.MotoVersionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    try:
        concurrency = quotas.ConcurrencyPool(quotas.concurrency_from_env())
    except ValueError as exc:
        print(f"error: {quotas.ENV_LAMBDA_CONCURRENCY}: {exc}", file=sys.stderr)
        return 2
    mode = args.iam or iam_enforcement.mode_from_env()
    iam_on = mode != "off"
    faults = FaultRegistry()
    credentials = moto_patches.role_session_credentials
    runtime = LambdaRuntime(
        state_dir, endpoint, moto_patches.lambda_log_sink, tracker=faults, credentials=credentials
    )
    glue = GlueRunner(state_dir, endpoint, credentials=credentials)
    mover = MessageMover(endpoint, REGION)
    moto_patches.apply(
        moto_patches.Hooks(
            lambda_runtime=runtime,
            glue_runner=glue,
            message_mover=mover,
            concurrency=concurrency,
        )
    )
    moto_patches.enable_iam(
        iam_enforcement.RoleSessions(moto_patches.assume_role, moto_patches.role_trust_policy)
        if iam_on
        else None,
        soft=mode == "soft",
    )
    started = time.time()

    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "pid": os.getpid(),
            "moto": moto_patches.MOTO_VERSION,
            "uptime_s": round(time.time() - started, 3),
            "endpoint": endpoint,
            "lambda_workers": runtime.worker_count(),
            "lambda_concurrency": concurrency.limit,
            "iam": mode,
        }

    services = _roadmap_services(moto_patches.make_wsgi_app(), state_dir, endpoint)
    app = CeapMiddleware(services, faults, health)
    poller = PipePoller(endpoint, REGION, credentials=credentials)

    def shutdown(signum: int, _frame: Any) -> None:
        poller.stop()
        runtime.close()
        glue.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    from werkzeug.serving import run_simple

    poller.start()
    threading.Thread(target=_warm_up, args=(endpoint,), name="warm-up", daemon=True).start()
    logging.getLogger("ceap_tf.localcloud").info("local cloud listening on %s", endpoint)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=moto_patches.request_handler_class(),
        use_reloader=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
