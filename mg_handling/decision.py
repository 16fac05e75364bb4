"""What happens to a due campaign: its plan, or why it is not sent.

Pure rules on a campaign row (no database): the engine runs them before it
claims a campaign, `preview` and `status` to say what the daemon would do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from mg_handling.errors import CampaignError
from mg_handling.job import Job
from mg_handling.messages import Delivery
from mg_handling.states import RunState
from mg_handling.store import Campaign
from mg_handling.targeting import Targeting
from util.config import Config


@dataclass(frozen=True)
class Settings:
    push_ahead_seconds: int
    batch_size: int
    max_lateness_seconds: int
    max_rows_per_second: int = 0  # 0: unlimited

    @classmethod
    def from_config(cls, config: Config) -> "Settings":
        return cls(config.push_ahead_seconds, config.batch_size, config.max_lateness_seconds,
                   config.max_rows_per_second)

    @property
    def chunk_size(self) -> int:
        """Throttled, a chunk holds at most one second of writing."""
        if self.max_rows_per_second:
            return min(self.batch_size, self.max_rows_per_second)
        return self.batch_size


@dataclass(frozen=True)
class Plan:
    targeting: Targeting
    delivery: Delivery


@dataclass(frozen=True)
class Settle:
    """A campaign that will not be sent: failed, skipped or expired, and why."""
    state: RunState
    reason: str


def decide(job: Job, campaign: Campaign, settings: Settings, retry: bool = False
           ) -> Union[Plan, Settle]:
    """What to do with a due campaign: its plan, or why it is not sent."""
    row = campaign.columns
    try:
        targeting = Targeting.from_row(row)
        send_time = row[job.send_time_field]
        if send_time <= 0:
            raise CampaignError(job.send_time_field,
                                "must be a positive Unix timestamp, not %r" % send_time)
        delivery = job.delivery(row)
    except CampaignError as error:
        return Settle(RunState.FAILED, str(error))
    empty = targeting.empty_dimensions()
    if empty:
        return Settle(RunState.SKIPPED, "%s empty: an empty target list never means everyone"
                      % " and ".join(empty))
    late = campaign.db_now - send_time
    limit = settings.max_lateness_seconds
    if limit and late > limit and not retry:  # an operator's retry overrides the limit
        return Settle(RunState.EXPIRED, "%d s overdue, more than max_lateness_seconds %d"
                      % (late, limit))
    return Plan(targeting, delivery)
