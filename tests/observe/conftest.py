"""Fixtures of the observability tests: a StatusServer on a free loopback port."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from mg_handling.metrics import Metrics
from mg_handling.views import PageSnapshot
from mg_handling.web import StatusServer

JOBS = ("news", "promotion", "activity")
ServerFactory = Callable[[Callable[[], PageSnapshot]], StatusServer]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(JOBS, poll_interval=8)


@pytest.fixture
def serve(metrics: Metrics) -> Iterator[ServerFactory]:
    """Starts a StatusServer (port 0: the kernel picks a free one) on `metrics`
    and the given snapshot callable; stops it after the test."""
    started = []

    def start(snapshot: Callable[[], PageSnapshot]) -> StatusServer:
        server = StatusServer(snapshot, metrics.registry, port=0)
        server.start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()
