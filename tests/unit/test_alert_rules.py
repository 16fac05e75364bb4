"""deploy/prometheus-alerts.yml is valid and does what tests/promtool/alerts_test.yml
says, by Debian's promtool (skipped where it is not installed, except in CI)."""
from __future__ import annotations

import os
import subprocess

from testkit.observe import require_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "deploy", "prometheus-alerts.yml")
RULE_TESTS = os.path.join(ROOT, "tests", "promtool", "alerts_test.yml")
ALERTS = ("MessageHandlingJobStuck", "MessageHandlingCampaignFailed",
          "MessageHandlingNoLockHolder", "MessageHandlingDatabaseDown",
          "MessageHandlingFanOutSlow")


def _promtool(*args: str) -> str:
    result = subprocess.run([require_tool("promtool"), *args], capture_output=True, text=True,
                            timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, "promtool %s failed:\n%s" % (" ".join(args), output)
    return output


def test_rules_are_valid() -> None:
    assert "SUCCESS: %d rules found" % len(ALERTS) in _promtool("check", "rules", RULES)


def test_rules_pass_their_unit_tests() -> None:
    assert "SUCCESS" in _promtool("test", "rules", RULE_TESTS)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    with open(RULE_TESTS, encoding="utf-8") as tests:
        text = tests.read()
    for alert in ALERTS:
        cases = text.split("alertname: %s\n" % alert)[1:]
        assert any(case.lstrip().startswith("exp_alerts: []") for case in cases), alert
        assert any(case.lstrip().startswith("exp_alerts:\n") for case in cases), alert
