"""A job thread's timing and logging helpers (mg_handling/worker.py): Backoff, Heartbeat,
Episode. No database."""
import logging

from mg_handling import worker
from mg_handling.engine import PollResult
from mg_handling.news import NewsJob


def test_backoff_doubles_up_to_the_cap():
    backoff = worker.Backoff(first=1.0, cap=60.0)
    assert [backoff.next() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_backoff_reset_starts_again_from_the_first_delay():
    backoff = worker.Backoff(first=0.5, cap=3.0)
    assert [backoff.next() for _ in range(4)] == [0.5, 1.0, 2.0, 3.0]
    backoff.reset()
    assert [backoff.next() for _ in range(2)] == [0.5, 1.0]


def heartbeat_lines(caplog):
    return [record.getMessage() for record in caplog.records
            if record.name == "mg_handling.worker" and record.levelno == logging.INFO]


def test_a_busy_poll_logs_one_line_with_its_outcomes(caplog):
    caplog.set_level(logging.INFO, logger="mg_handling.worker")
    heartbeat = worker.Heartbeat(NewsJob())
    heartbeat.polled(PollResult(outcomes={"done": 2, "failed": 1}))
    assert heartbeat_lines(caplog) == ["news: poll handled 2 done, 1 failed"]


def test_idle_polls_are_quiet_until_the_heartbeat_is_due(caplog):
    caplog.set_level(logging.INFO, logger="mg_handling.worker")
    heartbeat = worker.Heartbeat(NewsJob())
    for _ in range(3):
        heartbeat.polled(PollResult())
    assert heartbeat_lines(caplog) == []
    heartbeat.since -= worker.HEARTBEAT_SECONDS  # as if the interval went by
    heartbeat.polled(PollResult())
    lines = heartbeat_lines(caplog)
    assert len(lines) == 1
    assert lines[0].startswith("news: alive, 4 polls in ")
    assert lines[0].endswith(" s, nothing due")
    heartbeat.polled(PollResult())  # the count starts again after a heartbeat
    assert heartbeat.idle_polls == 1 and len(heartbeat_lines(caplog)) == 1


def test_a_busy_poll_restarts_the_idle_count(caplog):
    caplog.set_level(logging.INFO, logger="mg_handling.worker")
    heartbeat = worker.Heartbeat(NewsJob())
    heartbeat.polled(PollResult())
    heartbeat.polled(PollResult())
    heartbeat.polled(PollResult(outcomes={"skipped": 1}))
    assert heartbeat.idle_polls == 0
    assert heartbeat_lines(caplog) == ["news: poll handled 1 skipped"]


def worker_records(caplog):
    return [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == "mg_handling.worker"]


def test_an_episode_logs_its_start_and_its_end_once_and_its_retries_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="mg_handling.worker")
    episode = worker.Episode()
    episode.ended()  # nothing going on: nothing to say
    for delay in (1, 2):
        episode.problem(logging.WARNING, "news: deadlock; again in %d s" % delay, "news: works")
    episode.ended()
    episode.ended()
    assert worker_records(caplog) == [("WARNING", "news: deadlock; again in 1 s"),
                                      ("DEBUG", "news: deadlock; again in 2 s"),
                                      ("INFO", "news: works")]


def test_a_lasting_problem_after_a_transient_one_is_logged_at_its_own_level(caplog):
    caplog.set_level(logging.INFO, logger="mg_handling.worker")
    episode = worker.Episode()
    episode.problem(logging.WARNING, "news: deadlock", "news: works")
    episode.problem(logging.ERROR, "the table x is missing", "the table x is back")
    episode.problem(logging.ERROR, "the table x is missing", "the table x is back")
    episode.ended()
    assert worker_records(caplog) == [("WARNING", "news: deadlock"),
                                      ("ERROR", "the table x is missing"),
                                      ("INFO", "the table x is back")]
