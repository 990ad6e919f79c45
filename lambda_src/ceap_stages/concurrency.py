"""Bounded concurrent batches inside one invocation, with a limit that adapts to throttling.

Store and Reactive are bound by round trips (BatchGetItem/BatchWriteItem, PutEvents), not
by CPU, so they keep up to ``CEAP_{STAGE}_CONCURRENCY`` batches in flight on a thread
pool (``OrderedBatches``) and write their output in input order.

``AdaptiveLimit`` caps the AWS calls in flight below that pool size when the service
throttles: every throttled call (a throttling error, or a batch answered with unprocessed
items) halves the limit (down to 1) and every ``limit`` successful calls raise it by one
(up to the configured concurrency) -- additive increase, multiplicative decrease, the
scheme TCP and botocore's ``adaptive`` retry mode use. A throttled call also sleeps with
capped exponential backoff and full jitter before it tries again (``aws.backoff_sleep``),
so a throttled table sees fewer callers, each of them slower.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class AdaptiveLimit:
    """A concurrency limit between 1 and ``maximum`` that backs off on throttling."""

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError("the concurrency limit is at least 1")
        self.maximum = maximum
        self.limit = maximum
        self.lowest = maximum
        self.throttles = 0
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``limit`` slots for one AWS call."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self.throttles += 1
            self._successes = 0
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)

    def succeeded(self) -> None:
        with self._cond:
            if self.limit >= self.maximum:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self.limit += 1
                self._cond.notify_all()


class OrderedBatches(Generic[T, R]):
    """Run ``work`` on batches, at most ``concurrency`` at a time; results in submit order.

    ``submit`` blocks while ``concurrency`` batches are in flight and hands every batch
    that finished in order, oldest first, with its result to ``done``, on the caller's
    thread. ``drain`` waits for all of them (a caller that must not overlap two batches,
    e.g. two writes of one key, drains first). The first failure is raised by ``submit``
    or ``drain``; the batches already running finish, none is started after it.
    With ``concurrency`` 1 no thread is started: each batch runs inline, as before.
    """

    def __init__(
        self, work: Callable[[T], R], done: Callable[[T, R], None], concurrency: int
    ) -> None:
        self._work = work
        self._done = done
        self._concurrency = concurrency
        self._pool = ThreadPoolExecutor(concurrency) if concurrency > 1 else None
        self._pending: deque[tuple[T, Future[R]]] = deque()

    def submit(self, batch: T) -> None:
        if self._pool is None:
            self._done(batch, self._work(batch))
            return
        while len(self._pending) >= self._concurrency:
            self._finish_oldest()
        self._pending.append((batch, self._pool.submit(self._work, batch)))

    def _finish_oldest(self) -> None:
        batch, future = self._pending.popleft()
        try:
            result = future.result()
        except BaseException:
            self._abandon()
            raise
        self._done(batch, result)

    def _abandon(self) -> None:
        for _, future in self._pending:
            future.cancel()
        for _, future in self._pending:
            if not future.cancelled():
                future.exception()  # wait; the first failure is the one already raised
        self._pending.clear()

    def drain(self) -> None:
        """Wait for every batch in flight, handing each to ``done`` (the first failure raises)."""
        while self._pending:
            self._finish_oldest()

    def close(self) -> None:
        """Stop: batches not started are cancelled, running ones finish; threads end."""
        self._abandon()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
