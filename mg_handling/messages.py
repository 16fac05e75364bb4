"""What every recipient of a campaign gets: the Delivery, and the checks on it.

All content is built once per campaign in Python and is the same for every
recipient; only the recipient column varies, filled by the database.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

from mg_handling.errors import CampaignError

MESSAGE_QUEUE = "message_queue"
MESSAGE_PROMOTION = "message_promotion"
QUEUE_CONTENT_MAX_CHARS = 8192      # message_queue.content is varchar(8192)
TEXT_MAX_BYTES = 65535              # message_promotion.content is text
QUEUE_TITLE_MAX_CHARS = 60
DEFAULT_MESSAGE_TYPE = 231
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Delivery:
    """One campaign's rows: where they go and what they hold, the recipient aside."""
    target: str          # MESSAGE_QUEUE or MESSAGE_PROMOTION
    audience: str        # users, emails, mobiles or mobiles_and_cards
    message_type: int    # message_queue.type or message_promotion.type
    from_uid: str
    title: str
    content: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Delivery":
        return cls(**json.loads(text))


def _reject_constant(name: str) -> None:
    raise ValueError("%s is not valid JSON" % name)


def parse_json(field: str, text: Optional[str]) -> Any:
    """Strict JSON (no NaN or Infinity); failures name the field."""
    if text is None:
        raise CampaignError(field, "is NULL")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise CampaignError(field, "not valid JSON (%s)" % error) from None


def dump_json(field: str, value: Any) -> str:
    """Compact UTF-8 JSON, not \\u-escaped; lone surrogates fail the campaign."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CampaignError(field, "holds text that is not valid Unicode "
                                   "(a lone surrogate escape)") from None
    return text


def envelope(field: str, message_type: int, params: Dict[str, Any]) -> str:
    """The full message `{"messagetype": T, "params": {...}}`, checked for size."""
    content = dump_json(field, {"messagetype": message_type, "params": params})
    if len(content) > QUEUE_CONTENT_MAX_CHARS:
        raise CampaignError(field, "message is %d characters, more than the %d that "
                                   "message_queue.content holds (JSON is never cut)"
                            % (len(content), QUEUE_CONTENT_MAX_CHARS))
    return content


def custom_message(field: str, text: str) -> Dict[str, Any]:
    """A json_data message: an object with a params object and an optional messagetype."""
    message = parse_json(field, text)
    if not isinstance(message, dict):
        raise CampaignError(field, "must be a JSON object, not %s" % _kind(message))
    params = message.get("params")
    if not isinstance(params, dict):
        raise CampaignError(field, "'params' must be a JSON object, not %s" % _kind(params))
    message_type = message.get("messagetype", DEFAULT_MESSAGE_TYPE)
    if isinstance(message_type, bool) or not isinstance(message_type, int) \
            or not 0 < message_type <= 32767:
        raise CampaignError(field, "'messagetype' must be an integer from 1 to 32767, "
                                   "not %s" % json.dumps(message_type, ensure_ascii=False))
    return {"messagetype": message_type, "params": params}


def queue_title(title: Optional[str]) -> str:
    return (title or "")[:QUEUE_TITLE_MAX_CHARS]


def text_or_empty(value: Optional[str]) -> str:
    return "" if value is None else value


def required_text(field: str, value: Optional[str]) -> str:
    if value is None:
        raise CampaignError(field, "is NULL")
    if not value.strip():
        raise CampaignError(field, "is empty")
    return value


def fits_text_column(field: str, text: str) -> str:
    size = len(text.encode("utf-8"))
    if size > TEXT_MAX_BYTES:
        raise CampaignError(field, "is %d bytes, more than the %d that message_promotion."
                                   "content holds" % (size, TEXT_MAX_BYTES))
    return text


def sms_text(field: str, content: Optional[str]) -> str:
    """HTML to SMS text: <br> becomes a line break, tags go, entities are decoded."""
    text = html.unescape(_TAG.sub("", _BR.sub("\n", required_text(field, content)))).strip()
    if not text:
        raise CampaignError(field, "holds no text once HTML tags are removed")
    return fits_text_column(field, text)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def not_null(field: str, value: Any) -> Any:
    if value is None:
        raise CampaignError(field, "is NULL")
    return value


def in_app_message(row: Mapping[str, Any], kind: str, campaign_key: str,
                   image: str) -> "tuple[int, str]":
    """(messagetype, content) of an in-app message: json_data when set, else built
    from the campaign's columns."""
    custom = text_or_empty(row["json_data"])
    if custom.strip():
        message = custom_message("json_data", custom)
        return message["messagetype"], envelope("json_data", message["messagetype"],
                                                message["params"])
    params = {"id": not_null(campaign_key, row[campaign_key]),
              "title": text_or_empty(row["title"]),
              "content": not_null("content", row["content"]),
              "createdtime": row["created_time"], "image": image, "type": kind,
              "url": not_null("url", row["url"])}
    return DEFAULT_MESSAGE_TYPE, envelope("content", DEFAULT_MESSAGE_TYPE, params)
