"""Powertools Logger, Metrics and Tracer shared by every stage.

- Logger: structured JSON on stdout; the base handler appends ``executionId``,
  ``stage`` and ``workflow`` to every line of an invocation.
- Metrics: CloudWatch Embedded Metric Format in the log stream (no PutMetricData
  permission needed). Namespace from ``POWERTOOLS_METRICS_NAMESPACE`` (default
  ``CEAP``), dimensions ``workflow`` and ``stage``.
- Tracer: X-Ray. Inside Lambda it patches botocore (one subsegment per AWS call)
  and the stages open named subsegments per step (``## s3.read``, ``## dynamodb.batch_write``,
  ...). Outside Lambda, or with ``POWERTOOLS_TRACE_DISABLED=true``, it is a no-op.

Cold start: importing a stage loads none of Powertools (its package imports botocore,
its metrics and its tracing at once). The Logger is created at its first use,
metrics at the first invocation (``new_metrics``); the Tracer -- and with it the
X-Ray SDK, about as costly to import as boto3 -- loads at the first invocation only
where tracing is on (inside Lambda, ``POWERTOOLS_TRACE_DISABLED`` not true); elsewhere
``tracer`` is a no-op that never imports it. ``benchmarks.scale`` measures the import cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

DEFAULT_NAMESPACE = "CEAP"
#: EMF units (``aws_lambda_powertools.metrics.MetricUnit`` values), as strings so that
#: the metrics module loads only when an invocation emits.
COUNT = "Count"
MILLISECONDS = "Milliseconds"


def _service() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or "ceap"


class LazyLogger:
    """The Powertools Logger, created at its first use (every attribute is the Logger's)."""

    def __init__(self) -> None:
        self._logger: Logger | None = None

    @property
    def real(self) -> Logger:
        if self._logger is None:
            from aws_lambda_powertools import Logger

            self._logger = Logger(service=_service())
        return self._logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


logger: Any = LazyLogger()


def tracing_enabled(env: Any = None) -> bool:
    """Powertools' own rule: on inside Lambda unless ``POWERTOOLS_TRACE_DISABLED``."""
    env = os.environ if env is None else env
    disabled = str(env.get("POWERTOOLS_TRACE_DISABLED", "")).strip().lower()
    if disabled in ("1", "true", "yes", "on"):
        return False
    if env.get("AWS_SAM_LOCAL") or env.get("CHALICE_LOCAL"):
        return False
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


class LazyTracer:
    """The Powertools Tracer, created at first use where tracing is on; else no-ops."""

    def __init__(self) -> None:
        self._tracer: Any = None
        self._enabled: bool | None = None

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = tracing_enabled()
        return self._enabled

    @property
    def real(self) -> Any:
        """The Powertools Tracer (imports the X-Ray SDK); only when ``enabled``."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=_service())
        return self._tracer

    def put_annotation(self, key: str, value: Any) -> None:
        if self.enabled:
            self.real.put_annotation(key=key, value=value)

    def in_subsegment(self, name: str) -> AbstractContextManager[Any]:
        if self.enabled:
            return self.real.provider.in_subsegment(name=name)  # type: ignore[no-any-return]
        return nullcontext()

    def capture_lambda_handler(
        self, handler: Callable[[Any, Any], Any]
    ) -> Callable[[Any, Any], Any]:
        """``handler`` traced as ``## handler`` -- decided at its first call, not at import."""
        chosen: list[Callable[[Any, Any], Any]] = []

        def traced(event: Any, context: Any) -> Any:
            if not chosen:
                wrapped = handler
                if self.enabled:
                    wrapped = self.real.capture_lambda_handler(handler, capture_response=False)
                chosen.append(wrapped)
            return chosen[0](event, context)

        return traced


tracer = LazyTracer()


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


def new_metrics() -> Metrics:
    """A Metrics instance for one invocation (flushed by the base handler)."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=namespace(), service=_service())


@contextmanager
def subsegment(name: str) -> Iterator[Any]:
    """An X-Ray subsegment named ``## {name}`` (a no-op when tracing is off)."""
    with tracer.in_subsegment(f"## {name}") as seg:
        yield seg


def emit_count_by_dimension(
    name: str, dimension: str, counts: dict[str, int], base_dimensions: dict[str, str]
) -> None:
    """One EMF blob per value of ``dimension`` (e.g. rejections per reasonCode)."""
    if not counts:
        return
    from aws_lambda_powertools.metrics import single_metric

    for value, count in sorted(counts.items()):
        with single_metric(
            name=name,
            unit=COUNT,
            value=count,
            namespace=namespace(),
            default_dimensions=base_dimensions,
        ) as metric:
            metric.add_dimension(name=dimension, value=value)


__all__ = [
    "COUNT",
    "MILLISECONDS",
    "emit_count_by_dimension",
    "logger",
    "new_metrics",
    "subsegment",
    "tracer",
    "tracing_enabled",
]
