"""What a job is: one campaign table, how its rows become a Delivery."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping

from mg_handling.messages import Delivery


class Job(ABC):
    """One campaign table; its due rows, its mark-sent statement and its columns are
    the store's named statements due_<name>, mark_sent_<name>, <name>_columns."""
    name: str
    label: str
    table: str
    send_time_field: str

    @abstractmethod
    def delivery(self, row: Mapping[str, Any]) -> Delivery:
        """What every recipient gets; raises CampaignError for bad input."""

    def describe(self, campaign_id: Any) -> str:
        return "%s campaign %s (%s id %s)" % (self.name, campaign_id, self.table, campaign_id)
