"""What a job is: one campaign table, how its rows become a Delivery."""
from __future__ import annotations

import threading
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
        """'news campaign 4 (sns_qa_push_setting id 4)'. In the job's own thread the
        log line already starts with its name (the thread's): 'campaign 4 (...)',
        so that the line reads 'news campaign 4 (...)', not 'news news campaign 4'."""
        campaign = "campaign %s (%s id %s)" % (campaign_id, self.table, campaign_id)
        if threading.current_thread().name == self.name:
            return campaign
        return "%s %s" % (self.name, campaign)
