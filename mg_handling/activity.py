"""活动管理: published activities from operation_activity to message_queue (231)."""
from __future__ import annotations

from typing import Any, Mapping

from mg_handling.job import Job
from mg_handling.messages import MESSAGE_QUEUE, Delivery, in_app_message, queue_title, text_or_empty


class ActivityJob(Job):
    name = "activity"
    label = "活动管理"
    table = "operation_activity"
    send_time_field = "onlinetime"

    def delivery(self, row: Mapping[str, Any]) -> Delivery:
        message_type, content = in_app_message(row, "activity", "activity_id",
                                               image=text_or_empty(row["image"]))
        return Delivery(MESSAGE_QUEUE, "users", message_type,
                        text_or_empty(row["user_id"]), queue_title(row["title"]), content)
