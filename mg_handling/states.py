"""The states of a campaign's run (mh_campaign_run.state), and the sets the
contract groups them in. Every rule that asks "which states ..." reads it here:
the engine, the commands, and the SQL, which gets the sets as parameters."""
from __future__ import annotations

from enum import Enum
from typing import FrozenSet, Tuple


class RunState(str, Enum):
    PENDING = "pending"      # seen only inside the transaction that claims the campaign
    RUNNING = "running"      # audience frozen, chunks being written
    DONE = "done"            # every recipient written, the legacy row marked sent
    FAILED = "failed"        # the row cannot be sent as it is
    SKIPPED = "skipped"      # a target list is empty
    EXPIRED = "expired"      # overdue by more than max_lateness_seconds
    RETRY = "retry"          # an operator asked to send it again
    CANCELLED = "cancelled"  # an operator stopped it

    def __str__(self) -> str:
        return self.value


# Not sent, and looked at again only when the campaign's row changes.
SETTLED: FrozenSet[RunState] = frozenset({RunState.FAILED, RunState.SKIPPED, RunState.EXPIRED})
# Never looked at again.
FINAL: FrozenSet[RunState] = frozenset({RunState.DONE, RunState.CANCELLED})
# How a run ends: counted in campaigns_total, listed as recent on the status page.
ENDED: FrozenSet[RunState] = SETTLED | FINAL
# What `retry` accepts.
RETRYABLE: FrozenSet[RunState] = SETTLED | {RunState.CANCELLED}
# Shown by `status` whatever their age: the runs an operator may have to act on.
OPEN: FrozenSet[RunState] = SETTLED | {RunState.RUNNING, RunState.RETRY}


def sql_values(states: FrozenSet[RunState]) -> Tuple[str, ...]:
    """A set as the tuple a `state IN %(states)s` parameter takes (sorted: stable SQL)."""
    return tuple(sorted(state.value for state in states))
