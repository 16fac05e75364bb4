"""A real Prometheus server (Debian's) scrapes the status server every second:
the values the test reports through mg_handling.metrics come back through
Prometheus' HTTP API, and the alert rules of deploy/ load and fire there."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from page_sample import sample_snapshot

from mg_handling.metrics import Metrics
from mg_handling.states import RunState
from testkit.observe import Prometheus, Sample

ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-alerts.yml"


@pytest.fixture
def prometheus(serve, tmp_path) -> Iterator[Prometheus]:
    server = serve(sample_snapshot)
    target = server.url.split("//", 1)[1].rstrip("/")
    with Prometheus(target, tmp_path, rule_files=[ALERT_RULES]) as running:
        yield running


def one_value(samples: List[Sample]) -> float:
    assert len(samples) == 1, samples
    return samples[0][1]


def has_value(expected: float) -> Callable[[List[Sample]], bool]:
    return lambda samples: len(samples) == 1 and samples[0][1] == expected


def test_scraped_values_match_what_was_reported(prometheus: Prometheus, metrics: Metrics) -> None:
    # The first scrape sees every series at 0, as the daemon starts.
    prometheus.wait_for('message_handling_campaigns_total{job="promotion",outcome="failed"}',
                        has_value(0))
    metrics.set_lock_held(True)
    metrics.set_database_up(True)
    metrics.audience_progress("news", total=25000, written=20000)
    metrics.rows_written("news", "message_queue", 10000)
    metrics.rows_written("news", "message_queue", 10000)
    metrics.rows_written("promotion", "message_promotion", 777)
    metrics.poll_finished("news", 0.3)
    metrics.campaign_finished("promotion", RunState.FAILED, 12.5)

    prometheus.wait_for('message_handling_rows_written_total{job="news",table="message_queue"}',
                        has_value(20000))
    assert one_value(prometheus.query(
        'message_handling_rows_written_total{job="promotion",table="message_promotion"}')) == 777
    assert one_value(prometheus.query(
        'message_handling_running_audience_rows{job="news",state="written"}')) == 20000
    assert one_value(prometheus.query('message_handling_lock_held')) == 1
    assert one_value(prometheus.query('message_handling_database_up')) == 1
    assert one_value(prometheus.query(
        'message_handling_campaign_seconds_sum{job="promotion"}')) == 12.5
    assert one_value(prometheus.query(
        'message_handling_campaigns_total{job="promotion",outcome="failed"}')) == 1
    # honor_labels kept the daemon's job label, not the scrape job's name.
    labels = prometheus.query('message_handling_poll_seconds_count{job="news"}')[0][0]
    assert labels["job"] == "news" and "exported_job" not in labels

    # The failure went from 0 to 1 between two scrapes: the alert fires.
    firing = prometheus.wait_for(
        'ALERTS{alertname="MessageHandlingCampaignFailed",alertstate="firing"}',
        lambda samples: len(samples) == 1)
    assert firing[0][0]["job"] == "promotion"


def test_the_rules_load_in_the_server(prometheus: Prometheus) -> None:
    prometheus.wait_for("message_handling_lock_held", has_value(0))
    # Nobody holds the lock (it never was): pending, firing only after 2 min.
    pending = prometheus.wait_for('ALERTS{alertname="MessageHandlingNoLockHolder"}',
                                  lambda samples: len(samples) == 1)
    assert pending[0][0]["alertstate"] == "pending"
