"""mg_handling.metrics: the names of issue 12, in the exposition format. No database."""
from __future__ import annotations

import time

import pytest
from prometheus_client import generate_latest

from mg_handling.metrics import OUTCOMES, Metrics
from mg_handling.states import RunState

JOBS = ("news", "promotion", "activity")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(JOBS, poll_interval=8)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    sample = metrics.registry.get_sample_value("message_handling_" + name, labels)
    assert sample is not None, "no sample %s%s" % (name, labels)
    return sample


def test_every_series_exists_from_the_start(metrics: Metrics) -> None:
    for job in JOBS:
        for outcome in OUTCOMES:
            assert value(metrics, "campaigns_total", job=job, outcome=outcome) == 0
        assert value(metrics, "rows_written_total", job=job, table="message_queue") == 0
        assert value(metrics, "running_audience_rows", job=job, state="total") == 0
        assert abs(value(metrics, "last_poll_timestamp_seconds", job=job) - time.time()) < 5
    assert value(metrics, "lock_held") == 0
    assert value(metrics, "database_up") == 0
    assert value(metrics, "poll_interval_seconds") == 8


def test_exposition_names(metrics: Metrics) -> None:
    text = generate_latest(metrics.registry).decode()
    for line in ("# TYPE message_handling_rows_written_total counter",
                 "# TYPE message_handling_campaigns_total counter",
                 "# TYPE message_handling_campaign_seconds histogram",
                 "# TYPE message_handling_poll_seconds histogram",
                 "# TYPE message_handling_last_poll_timestamp_seconds gauge",
                 "# TYPE message_handling_running_audience_rows gauge",
                 "# TYPE message_handling_lock_held gauge",
                 "# TYPE message_handling_database_up gauge"):
        assert line in text


def test_a_fan_out(metrics: Metrics) -> None:
    metrics.audience_progress("news", total=25000, written=10000)
    metrics.rows_written("news", "message_queue", 10000)
    metrics.rows_written("news", "message_queue", 10000)
    assert value(metrics, "running_audience_rows", job="news", state="written") == 10000
    metrics.campaign_finished("news", RunState.DONE, 42.0)
    assert value(metrics, "rows_written_total", job="news", table="message_queue") == 20000
    assert value(metrics, "campaigns_total", job="news", outcome="done") == 1
    assert value(metrics, "campaign_seconds_sum", job="news") == 42.0
    assert value(metrics, "campaign_seconds_bucket", job="news", le="60.0") == 1
    assert value(metrics, "campaign_seconds_bucket", job="news", le="30.0") == 0
    assert value(metrics, "running_audience_rows", job="news", state="total") == 0


def test_poll_and_flags(metrics: Metrics) -> None:
    metrics.poll_finished("promotion", 0.2)
    assert value(metrics, "poll_seconds_count", job="promotion") == 1
    metrics.set_lock_held(True)
    metrics.set_database_up(True)
    assert value(metrics, "lock_held") == 1
    assert value(metrics, "database_up") == 1


def test_a_run_left_unended_is_not_an_outcome(metrics: Metrics) -> None:
    metrics.audience_progress("news", total=25000, written=10000)
    metrics.campaign_finished("news", RunState.RUNNING, 1.0)  # the lease was lost
    assert value(metrics, "running_audience_rows", job="news", state="total") == 0
    assert not [sample for family in metrics.registry.collect() for sample in family.samples
                if sample.labels.get("outcome") in ("running", "retry", "pending")]
    assert value(metrics, "campaign_seconds_count", job="news") == 0


def test_unknown_tables_are_refused(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        metrics.rows_written("news", "sns_qa_push_setting", 1)


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(JOBS, 8), Metrics(JOBS, 8)
    first.set_lock_held(True)
    assert value(second, "lock_held") == 0


def test_a_committed_chunk_counts_as_progress_like_a_poll(metrics: Metrics) -> None:
    """A fan-out of an hour is one poll: its chunks keep the job's timestamp fresh,
    so MessageHandlingJobStuck does not fire on it."""
    metrics._last_poll.labels(job="news").set(1000.0)  # an hour-long poll began long ago
    metrics.job_progressed("news")
    assert abs(value(metrics, "last_poll_timestamp_seconds", job="news") - time.time()) < 5
    assert value(metrics, "poll_seconds_count", job="news") == 0  # no poll ended
