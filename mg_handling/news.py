"""资讯推送: news pushes from sns_qa_push_setting to message_queue (messagetype 230)."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping

from mg_handling.errors import CampaignError
from mg_handling.job import Job
from mg_handling.messages import (
    MESSAGE_QUEUE,
    Delivery,
    envelope,
    parse_json,
    queue_title,
    text_or_empty,
)

NEWS_MESSAGE_TYPE = 230


def news_params(text: str) -> Dict[str, Any]:
    """The params of a news message from any accepted content shape: the full
    message, {"data": [...]} or a bare list. Every item keeps its keys and order."""
    data = parse_json("content", text)
    params: Any
    if isinstance(data, list):
        params = {"data": data}
    elif isinstance(data, dict) and ("params" in data or "messagetype" in data):
        message_type = data.get("messagetype")
        if message_type != NEWS_MESSAGE_TYPE or isinstance(message_type, bool):
            raise CampaignError("content", "'messagetype' must be %d, not %r"
                                % (NEWS_MESSAGE_TYPE, message_type))
        params = data.get("params")
        if not isinstance(params, dict):
            raise CampaignError("content", "'params' must be a JSON object")
    elif isinstance(data, dict):
        params = data
    else:
        raise CampaignError("content", "must be a news list, {\"data\": [...]} or a full "
                                       "message, not a JSON %s" % type(data).__name__)
    _check_items(params.get("data"))
    return params


def _check_items(items: Any) -> List[Dict[str, Any]]:
    if not isinstance(items, list) or not items:
        raise CampaignError("content", "'data' must be a non-empty list of news items")
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise CampaignError("content", "news item %d is not a JSON object" % number)
        for key in ("newsid", "title"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                raise CampaignError("content", "news item %d: '%s' must be a non-empty "
                                               "string" % (number, key))
    return items


class NewsJob(Job):
    name = "news"
    label = "资讯推送"
    table = "sns_qa_push_setting"
    send_time_field = "push_time"

    def delivery(self, row: Mapping[str, Any]) -> Delivery:
        params = news_params(row["content"])
        return Delivery(target=MESSAGE_QUEUE, audience="users",
                        message_type=NEWS_MESSAGE_TYPE,
                        from_uid=text_or_empty(row["admin_id"]),
                        title=queue_title(params["data"][0]["title"]),
                        content=envelope("content", NEWS_MESSAGE_TYPE, params))
