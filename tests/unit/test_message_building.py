"""What a recipient gets, built from hand-made campaign rows: the JSON envelope, news
params, activity and promotion deliveries, SMS text. No database."""
import json

import pytest

from mg_handling.activity import ActivityJob
from mg_handling.errors import CampaignError
from mg_handling.messages import (
    MESSAGE_PROMOTION,
    MESSAGE_QUEUE,
    Delivery,
    custom_message,
    envelope,
    queue_title,
    sms_text,
)
from mg_handling.news import NewsJob, news_params
from mg_handling.promotion import PromotionJob

NEWS_ITEM = {"newsid": "n1", "title": "新闻标题 📰", "url": "https://x/n1"}


def failure(call, *args):
    """The CampaignError a call raises: (field, reason)."""
    with pytest.raises(CampaignError) as caught:
        call(*args)
    return caught.value.field, caught.value.reason


def activity_row(**values):
    row = {"id": 7, "activity_id": "act-春节", "title": "春节活动 🧧", "content": "红包 & 福利",
           "image": "https://x/a.png", "url": "https://x/a", "created_time": 1700000002,
           "json_data": "", "user_id": "运营-3", "region": "C1", "industry": "I11",
           "func": "F1", "onlinetime": 1700000100}
    row.update(values)
    return row


def promotion_row(**values):
    row = {"id": 9, "pro_id": "p-推广", "type": 1, "isalluser": 1, "title": "推广 🎉",
           "content": "推广内容", "url": "https://x/p", "created_time": 1700000001,
           "json_data": "", "admin_id": "admin-2", "region": "C1", "industry": "I11",
           "func": "F1", "push_time": 1700000100}
    row.update(values)
    return row


# ---------------------------------------------------------------- the envelope

def test_envelope_is_compact_utf8_json_in_insertion_order():
    content = envelope("content", 231, {"title": "标题 😀", "a": [1, "二"]})
    assert content == '{"messagetype":231,"params":{"title":"标题 😀","a":[1,"二"]}}'


def test_envelope_longer_than_the_column_fails_and_is_never_cut():
    field, reason = failure(envelope, "content", 231, {"t": "字" * 8192})
    assert field == "content" and "8192" in reason and "never cut" in reason


def test_envelope_with_a_lone_surrogate_fails_naming_the_field():
    field, reason = failure(envelope, "json_data", 245, {"e": "\ud83d"})
    assert field == "json_data" and "lone surrogate" in reason


def test_custom_message_keeps_its_type_and_decodes_escapes():
    message = custom_message("json_data", '{"messagetype":245,"params":{"e":"\\ud83d\\ude00"}}')
    assert message == {"messagetype": 245, "params": {"e": "😀"}}


def test_custom_message_without_a_type_is_231():
    assert custom_message("json_data", '{"params":{"键":"值"}}')["messagetype"] == 231


@pytest.mark.parametrize("text,reason", [
    (None, "is NULL"),
    ("{", "not valid JSON"),
    ('{"params":{"a":NaN}}', "not valid JSON"),          # strict JSON: no NaN, no Infinity
    ('{"params":{"a":-Infinity}}', "not valid JSON"),
    ("[]", "must be a JSON object, not an array"),
    ('"文本"', "must be a JSON object, not a string"),
    ('{"messagetype":245}', "'params' must be a JSON object, not null"),
    ('{"params":[1]}', "'params' must be a JSON object, not an array"),
    ('{"messagetype":true,"params":{}}', "'messagetype' must be an integer from 1 to 32767"),
    ('{"messagetype":0,"params":{}}', "not 0"),
    ('{"messagetype":32768,"params":{}}', "not 32768"),
    ('{"messagetype":"245","params":{}}', 'not "245"'),
])
def test_custom_message_refuses_bad_json_and_bad_shapes(text, reason):
    field, got = failure(custom_message, "json_data", text)
    assert field == "json_data" and reason in got


def test_queue_title_is_cut_to_60_characters_not_bytes():
    assert queue_title("标" * 70) == "标" * 60
    assert queue_title(None) == ""


def test_delivery_survives_a_json_round_trip():
    delivery = Delivery(MESSAGE_QUEUE, "users", 231, "运营", "标题 🧧", '{"k":"值"}')
    assert Delivery.from_json(delivery.to_json()) == delivery
    assert "标题 🧧" in delivery.to_json()  # stored readable, not \u-escaped


# ---------------------------------------------------------------- news

@pytest.mark.parametrize("content", [
    [NEWS_ITEM],
    {"data": [NEWS_ITEM]},
    {"messagetype": 230, "params": {"data": [NEWS_ITEM]}},
])
def test_news_params_accept_the_three_content_shapes(content):
    assert news_params(json.dumps(content, ensure_ascii=False)) == {"data": [NEWS_ITEM]}


def test_news_params_keep_extra_keys_and_their_order():
    item = {"title": "标题", "extra": "额外", "newsid": "n2"}
    params = news_params(json.dumps({"data": [item], "更多": 1}, ensure_ascii=False))
    assert list(params) == ["data", "更多"] and list(params["data"][0]) == list(item)


@pytest.mark.parametrize("content,reason", [
    ("[]", "'data' must be a non-empty list"),
    ('{"data": "新闻"}', "'data' must be a non-empty list"),
    ('[1]', "news item 1 is not a JSON object"),
    ('[{"newsid": "n1", "title": "好"}, {"newsid": "n2", "title": " "}]',
     "news item 2: 'title' must be a non-empty string"),
    ('[{"title": "没有编号"}]', "news item 1: 'newsid' must be a non-empty string"),
    ('{"messagetype": 231, "params": {"data": []}}', "'messagetype' must be 230, not 231"),
    ('{"messagetype": true, "params": {"data": []}}', "'messagetype' must be 230, not True"),
    ('{"messagetype": 230, "params": []}', "'params' must be a JSON object"),
    ('"新闻"', "not a JSON str"),
])
def test_news_params_refuse_bad_content(content, reason):
    field, got = failure(news_params, content)
    assert field == "content" and reason in got


def test_news_delivery():
    content = json.dumps([dict(NEWS_ITEM, title="新" * 65), NEWS_ITEM], ensure_ascii=False)
    delivery = NewsJob().delivery({"content": content, "admin_id": None})
    assert (delivery.target, delivery.audience, delivery.message_type, delivery.from_uid) \
        == (MESSAGE_QUEUE, "users", 230, "")
    assert delivery.title == "新" * 60
    assert json.loads(delivery.content) == {"messagetype": 230,
                                            "params": {"data": json.loads(content)}}


# ---------------------------------------------------------------- activity and promotion

def test_activity_delivery_builds_the_231_message_from_its_columns():
    delivery = ActivityJob().delivery(activity_row())
    assert delivery == Delivery(
        MESSAGE_QUEUE, "users", 231, "运营-3", "春节活动 🧧",
        '{"messagetype":231,"params":{"id":"act-春节","title":"春节活动 🧧","content":'
        '"红包 & 福利","createdtime":1700000002,"image":"https://x/a.png","type":"activity",'
        '"url":"https://x/a"}}')


def test_activity_json_data_replaces_the_built_message():
    delivery = ActivityJob().delivery(activity_row(
        json_data='{"messagetype":245,"params":{"活动":"自定义 🎈"}}'))
    assert (delivery.message_type, delivery.content) == (
        245, '{"messagetype":245,"params":{"活动":"自定义 🎈"}}')


@pytest.mark.parametrize("column", ["content", "url", "activity_id"])
def test_activity_null_column_fails_naming_it(column):
    assert failure(ActivityJob().delivery, activity_row(**{column: None})) == (column, "is NULL")


def test_activity_null_title_and_image_become_empty():
    params = json.loads(ActivityJob().delivery(activity_row(title=None, image=None)).content)
    assert (params["params"]["title"], params["params"]["image"]) == ("", "")


def test_in_app_promotion_is_a_user_message_without_image():
    delivery = PromotionJob().delivery(promotion_row())
    assert (delivery.target, delivery.audience, delivery.message_type, delivery.from_uid,
            delivery.title) == (MESSAGE_QUEUE, "users", 231, "admin-2", "推广 🎉")
    params = json.loads(delivery.content)["params"]
    assert (params["id"], params["type"], params["image"]) == ("p-推广", "user", "")


def test_email_promotion_keeps_the_html_for_message_promotion():
    delivery = PromotionJob().delivery(promotion_row(type=2, content="<p>你好 😀</p>"))
    assert delivery == Delivery(MESSAGE_PROMOTION, "emails", 2, "", "推广 🎉", "<p>你好 😀</p>")


@pytest.mark.parametrize("isalluser,audience", [(1, "mobiles"), (2, "mobiles_and_cards")])
def test_sms_promotion_reaches_card_holders_only_when_for_all_users(isalluser, audience):
    delivery = PromotionJob().delivery(promotion_row(type=3, isalluser=isalluser,
                                                     content="<b>春季</b>&amp;促销"))
    assert (delivery.target, delivery.audience, delivery.message_type, delivery.content) \
        == (MESSAGE_PROMOTION, audience, 3, "春季&促销")


@pytest.mark.parametrize("values,field", [
    ({"type": 4}, "type"),
    ({"type": None}, "type"),
    ({"isalluser": 0}, "isalluser"),
    ({"type": 2, "content": "  "}, "content"),
    ({"type": 3, "content": None}, "content"),
])
def test_promotion_bad_columns_fail_naming_them(values, field):
    assert failure(PromotionJob().delivery, promotion_row(**values))[0] == field


# ---------------------------------------------------------------- SMS text

@pytest.mark.parametrize("html,text", [
    ("<p>春季&amp;促销</p>", "春季&促销"),
    ("第一行<br>第二行<BR/>第三行<br />完 🎉", "第一行\n第二行\n第三行\n完 🎉"),
    ("  <div><span>回复TD退订</span></div>  ", "回复TD退订"),
    ("&lt;不是标签&gt; &#128512;", "<不是标签> 😀"),
])
def test_sms_text_from_html(html, text):
    assert sms_text("content", html) == text


@pytest.mark.parametrize("html,reason", [
    (None, "is NULL"),
    ("   ", "is empty"),
    ("<p><br/></p>", "holds no text once HTML tags are removed"),
    ("短" * 21846, "more than the 65535 that message_promotion.content holds"),
])
def test_sms_text_refuses_what_cannot_be_sent(html, reason):
    field, got = failure(sms_text, "content", html)
    assert field == "content" and reason in got
