"""The status server over real HTTP: /healthz, /metrics, and what it refuses."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Dict, Tuple

import pytest
from page_sample import sample_snapshot, stuck_snapshot

from mg_handling.views import PageSnapshot
from mg_handling.web import StatusServer


def get(url: str) -> Tuple[int, Dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_healthz_is_503_with_the_reason_when_a_job_is_stuck(serve) -> None:
    server = serve(stuck_snapshot)
    code, headers, body = get(server.url + "healthz")
    assert code == 503
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert body.count(b"\n") == 1 and body.endswith(b"\n")  # one line
    assert json.loads(body) == {
        "healthy": False,
        "reason": "job news has not completed a poll for 10 min 00 s "
                  "(doing: writing chunk 17 of 84 (news 42))"}


def test_healthz_is_200_when_all_is_well(serve) -> None:
    code, _, body = get(serve(sample_snapshot).url + "healthz")
    assert code == 200
    assert json.loads(body) == {"healthy": True, "reason": "holds the lock; 3 jobs polling"}


def test_no_snapshot_is_503_on_the_page_and_healthz(serve) -> None:
    def broken() -> PageSnapshot:
        raise ConnectionError("(2003, \"Can't connect to MySQL server on 'db-prd'\")")
    server = serve(broken)
    code, _, body = get(server.url + "healthz")
    assert code == 503
    assert json.loads(body)["reason"].startswith("status unavailable: (2003, ")
    code, _, body = get(server.url)
    assert code == 503
    assert "Can&#x27;t connect to MySQL server on &#x27;db-prd&#x27;" in body.decode()


def test_metrics_are_the_registry(serve, metrics) -> None:
    metrics.rows_written("news", "message_queue", 10000)
    code, headers, body = get(serve(sample_snapshot).url + "metrics")
    assert code == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    assert 'message_handling_rows_written_total{job="news",table="message_queue"} 10000.0' \
        in body.decode()


def test_the_page_is_html_that_may_load_nothing(serve) -> None:
    code, headers, body = get(serve(sample_snapshot).url)
    assert code == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert "双十一会员专享券" in body.decode("utf-8")


def test_unknown_paths_and_writes_are_refused(serve) -> None:
    server = serve(sample_snapshot)
    assert get(server.url + "admin")[0] == 404
    request = urllib.request.Request(server.url + "healthz", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 501


def test_a_port_in_use_fails_at_once(serve, metrics) -> None:
    port = int(serve(sample_snapshot).url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(OSError, match="Address already in use"):
        StatusServer(sample_snapshot, metrics.registry, port=port)
