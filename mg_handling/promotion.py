"""用户推广: user promotions from sys_user_promotion, in-app to message_queue,
email and SMS to message_promotion (one row per distinct address)."""
from __future__ import annotations

from typing import Any, Mapping

from mg_handling.errors import CampaignError
from mg_handling.job import Job
from mg_handling.messages import (
    MESSAGE_PROMOTION,
    MESSAGE_QUEUE,
    Delivery,
    fits_text_column,
    in_app_message,
    queue_title,
    required_text,
    sms_text,
    text_or_empty,
)

IN_APP, EMAIL, SMS = 1, 2, 3
TARGETED_USERS, ALL_USERS = 1, 2


class PromotionJob(Job):
    name = "promotion"
    label = "用户推广"
    table = "sys_user_promotion"
    send_time_field = "push_time"

    def delivery(self, row: Mapping[str, Any]) -> Delivery:
        kind, scope = row["type"], row["isalluser"]
        if kind not in (IN_APP, EMAIL, SMS):
            raise CampaignError("type", "unknown promotion type %r (1 in-app, 2 email, "
                                        "3 SMS)" % kind)
        if scope not in (TARGETED_USERS, ALL_USERS):
            raise CampaignError("isalluser", "must be 1 (targeted users) or 2 (all users), "
                                             "not %r" % scope)
        title = text_or_empty(row["title"])
        if kind == IN_APP:
            message_type, content = in_app_message(row, "user", "pro_id", image="")
            return Delivery(MESSAGE_QUEUE, "users", message_type,
                            text_or_empty(row["admin_id"]), queue_title(title), content)
        if kind == EMAIL:
            content = fits_text_column("content", required_text("content", row["content"]))
            return Delivery(MESSAGE_PROMOTION, "emails", EMAIL, "", title, content)
        # Card holders have a mobile but no account: "all users" reaches them by SMS only.
        audience = "mobiles_and_cards" if scope == ALL_USERS else "mobiles"
        return Delivery(MESSAGE_PROMOTION, audience, SMS, "", title,
                        sms_text("content", row["content"]))
