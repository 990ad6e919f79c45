"""Powertools Logger, Metrics and Tracer shared by every stage.

- Logger: structured JSON on stdout; the base handler appends ``executionId``,
  ``stage`` and ``workflow`` to every line of an invocation.
- Metrics: CloudWatch Embedded Metric Format in the log stream (no PutMetricData
  permission needed). Namespace from ``POWERTOOLS_METRICS_NAMESPACE`` (default
  ``CEAP``), dimensions ``workflow`` and ``stage``.
- Tracer: X-Ray. Inside Lambda it patches botocore (one subsegment per AWS call)
  and the stages open named subsegments per step (``## s3.read``, ``## dynamodb.batch_write``,
  ...). Outside Lambda, or with ``POWERTOOLS_TRACE_DISABLED=true``, it is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

DEFAULT_NAMESPACE = "CEAP"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ceap")
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ceap")


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


def new_metrics() -> Metrics:
    """A Metrics instance for one invocation (flushed by the base handler)."""
    return Metrics(
        namespace=namespace(), service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ceap"
    )


@contextmanager
def subsegment(name: str) -> Iterator[Any]:
    """An X-Ray subsegment named ``## {name}`` (a no-op when tracing is off)."""
    with tracer.provider.in_subsegment(name=f"## {name}") as seg:
        yield seg


def emit_count_by_dimension(
    name: str, dimension: str, counts: dict[str, int], base_dimensions: dict[str, str]
) -> None:
    """One EMF blob per value of ``dimension`` (e.g. rejections per reasonCode)."""
    for value, count in sorted(counts.items()):
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=count,
            namespace=namespace(),
            default_dimensions=base_dimensions,
        ) as metric:
            metric.add_dimension(name=dimension, value=value)


__all__ = ["MetricUnit", "emit_count_by_dimension", "logger", "new_metrics", "subsegment", "tracer"]
