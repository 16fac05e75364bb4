"""The exact rows each source writes, the final states, and bad input failing alone."""
import json
import logging
import re

import pytest

NEWS_ITEMS = [
    {"newsid": "n1", "title": "新闻标题 📰", "url": "https://x/n1",
     "coverurl": "https://x/n1.jpg", "createdtime": 1700000000, "来源": "中文键"},
    {"title": "第二条 🚀", "newsid": "n2", "url": "https://x/n2", "extra": {"a": [1, "二"]}},
]
CLOCK_SLACK_MS = 5000


def now_ms(db):
    return int(db.scalar("SELECT UNIX_TIMESTAMP()")) * 1000


def only_row(rows):
    assert len(rows) == 1, rows
    return rows[0]


def assert_raw_utf8(raw, *fragments):
    """Chinese and emoji are stored as themselves, never as \\u escapes."""
    assert "\\u" not in raw
    for fragment in fragments:
        assert fragment in raw


def promotion_rows(db):
    return db.query("SELECT * FROM message_promotion ORDER BY id")


def legacy_row(db, table, campaign_id):
    return db.query("SELECT * FROM `%s` WHERE id = %%s" % table, [campaign_id])[0]


# ---------------------------------------------------------------- news

@pytest.mark.parametrize("shape", ["full", "data", "bare"])
def test_news_row_columns_and_full_envelope_for_every_content_shape(db, run_once, shape):
    content = {"full": {"messagetype": 230, "params": {"data": NEWS_ITEMS}},
               "data": {"data": NEWS_ITEMS},
               "bare": NEWS_ITEMS}[shape]
    user = db.add_carded_user()
    db.add_news(content=content, admin_id="admin-news")
    before = now_ms(db)
    assert run_once() == 0
    after = now_ms(db) + 1000
    row = only_row(db.queue_rows())
    assert row["type"] == 230
    assert row["from_uid"] == "admin-news"
    assert row["to_uid"] == user
    assert row["nflag"] == 0
    assert row["isread"] == 0
    assert row["created_time"] == row["modified_time"]
    assert before - CLOCK_SLACK_MS <= row["created_time"] <= after + CLOCK_SLACK_MS
    assert row["title"] == "新闻标题 📰"
    message = json.loads(row["content"])
    assert message == {"messagetype": 230, "params": {"data": NEWS_ITEMS}}
    assert list(message) == ["messagetype", "params"]
    assert [list(item) for item in message["params"]["data"]] == \
        [list(item) for item in NEWS_ITEMS]
    assert_raw_utf8(row["content"], "新闻标题", "📰", "🚀", "来源")


def test_news_title_is_first_item_title_cut_to_60_characters(db, run_once):
    db.add_carded_user()
    long_title = ("长" * 35) + ("题" * 35)
    assert len(long_title) == 70
    db.add_news(content=[{"newsid": "n1", "title": long_title}])
    assert run_once() == 0
    row = only_row(db.queue_rows(230))
    assert row["title"] == long_title[:60]
    assert json.loads(row["content"])["params"]["data"][0]["title"] == long_title


# ---------------------------------------------------------------- promotion

def test_promotion_in_app_built_from_columns(db, run_once):
    user = db.add_carded_user()
    db.add_promotion(type=1, pro_id="pro-001", title="限时推广 🎉", content="内容<b>粗</b>",
                     url="https://x/p?a=1&b=2", admin_id="admin-promo")
    before = now_ms(db)
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["type"] == 231
    assert row["from_uid"] == "admin-promo"
    assert row["to_uid"] == user
    assert (row["nflag"], row["isread"]) == (0, 0)
    assert row["created_time"] == row["modified_time"]
    assert abs(row["created_time"] - before) <= CLOCK_SLACK_MS
    assert row["title"] == "限时推广 🎉"
    assert json.loads(row["content"]) == {
        "messagetype": 231,
        "params": {"id": "pro-001", "title": "限时推广 🎉", "content": "内容<b>粗</b>",
                   "createdtime": 1700000001, "image": "", "type": "user",
                   "url": "https://x/p?a=1&b=2"}}
    assert_raw_utf8(row["content"], "限时推广", "🎉")


def test_promotion_in_app_uses_json_data_and_its_messagetype(db, run_once):
    db.add_carded_user()
    # sys_user_promotion.json_data is utf8 (3 bytes): no emoji can be stored there.
    params = {"id": "自定义", "nested": {"list": [1, 2, "三"]}, "url": "u"}
    db.add_promotion(type=1, title="推广标题 😀",
                     json_data=json.dumps({"messagetype": 245, "params": params},
                                          ensure_ascii=False))
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["type"] == 245
    assert row["title"] == "推广标题 😀"
    assert row["from_uid"] == "admin-2"
    assert json.loads(row["content"]) == {"messagetype": 245, "params": params}
    assert_raw_utf8(row["content"], "自定义", "三")


def test_promotion_json_data_without_messagetype_defaults_to_231(db, run_once):
    db.add_carded_user()
    params = {"text": "默认类型"}
    db.add_promotion(type=1, json_data=json.dumps({"params": params}, ensure_ascii=False))
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["type"] == 231
    assert json.loads(row["content"]) == {"messagetype": 231, "params": params}


def test_promotion_in_app_null_title_becomes_empty(db, run_once):
    db.add_carded_user()
    db.add_promotion(type=1, title=None, pro_id="pro-null")
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["title"] == ""
    assert json.loads(row["content"])["params"]["title"] == ""


def test_promotion_email_row_keeps_html_content(db, run_once):
    db.add_carded_user(email="a@example.com", mobile="13800000001")
    html_content = "<p>尊敬的用户：</p><br/><a href=\"https://x/?a=1&amp;b=2\">点击</a>"
    db.add_promotion(type=2, title="邮件标题 🎁", content=html_content)
    before = int(db.now())
    assert run_once() == 0
    after = int(db.now())
    assert db.queue_rows() == []
    row = only_row(promotion_rows(db))
    assert row["type"] == 2
    assert row["email"] == "a@example.com"
    assert row["mobile"] == ""
    assert row["title"] == "邮件标题 🎁"
    assert row["content"] == html_content
    assert row["created_time"] == row["modified_time"]
    assert before - 5 <= row["created_time"] <= after + 5
    assert row["status"] == 0


def test_promotion_sms_row_is_plain_text(db, run_once):
    db.add_carded_user(mobile="13800000002", email="b@example.com")
    content = ("  <p>你好 &amp; 欢迎</p><br>第二行<br/>第三行<BR />1 &lt; 2 "
               "&#39;引号&#39;&nbsp;完 <br>  ")
    db.add_promotion(type=3, title="短信 📱", content=content)
    before = int(db.now())
    assert run_once() == 0
    row = only_row(promotion_rows(db))
    assert row["type"] == 3
    assert row["mobile"] == "13800000002"
    assert row["email"] == ""
    assert row["title"] == "短信 📱"
    expected = "你好 & 欢迎\n第二行\n第三行\n1 < 2 '引号'%s完"
    # &nbsp; decodes to U+00A0; a plain space is an acceptable rendering too.
    assert row["content"] in (expected % "\xa0", expected % " ")
    assert row["created_time"] == row["modified_time"]
    assert abs(row["created_time"] - before) <= 5
    assert row["status"] == 0


# ---------------------------------------------------------------- activity

def test_activity_built_message(db, run_once):
    user = db.add_carded_user()
    db.add_activity(activity_id="act-001", title="活动标题", content="活动内容",
                    image="https://x/a.png", url="https://x/a", user_id="act-owner")
    before = now_ms(db)
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["type"] == 231
    assert row["from_uid"] == "act-owner"
    assert row["to_uid"] == user
    assert (row["nflag"], row["isread"]) == (0, 0)
    assert row["created_time"] == row["modified_time"]
    assert abs(row["created_time"] - before) <= CLOCK_SLACK_MS
    assert row["title"] == "活动标题"
    assert json.loads(row["content"]) == {
        "messagetype": 231,
        "params": {"id": "act-001", "title": "活动标题", "content": "活动内容",
                   "createdtime": 1700000002, "image": "https://x/a.png",
                   "type": "activity", "url": "https://x/a"}}
    assert_raw_utf8(row["content"], "活动标题", "活动内容")


def test_activity_null_image_and_title_become_empty(db, run_once):
    db.add_carded_user()
    db.add_activity(activity_id="act-002", image=None, title=None)
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["title"] == ""
    params = json.loads(row["content"])["params"]
    assert params["image"] == ""
    assert params["title"] == ""


def test_activity_title_cut_to_60_characters_in_the_row_only(db, run_once):
    db.add_carded_user()
    long_title = "活" * 30 + "动" * 40
    db.add_activity(title=long_title)
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["title"] == long_title[:60]
    assert json.loads(row["content"])["params"]["title"] == long_title


def test_json_data_messagetype_too_big_for_the_type_column_fails(db, run_once):
    """message_queue.type is a smallint: 70000 must fail the campaign, not be clamped."""
    db.add_carded_user()
    activity = db.add_activity(json_data=_json({"messagetype": 70000, "params": {"a": 1}}))
    code = run_once()
    assert db.queue_rows() == []
    run = db.run("activity", activity)
    assert run["state"] == "failed"
    assert "json_data" in run["last_error"] or "messagetype" in run["last_error"]
    assert db.scalar("SELECT push_state FROM operation_activity WHERE id=%s",
                     [activity]) == 1
    assert code == 1


def test_activity_uses_json_data_and_its_messagetype(db, run_once):
    db.add_carded_user()
    params = {"activity": "自定义活动 🎈", "n": 3}  # json_data is utf8mb4 here
    db.add_activity(content=None,
                    json_data=json.dumps({"messagetype": 250, "params": params},
                                         ensure_ascii=False))
    assert run_once() == 0
    row = only_row(db.queue_rows())
    assert row["type"] == 250
    assert json.loads(row["content"]) == {"messagetype": 250, "params": params}
    assert_raw_utf8(row["content"], "自定义活动", "🎈")


# ---------------------------------------------------------------- final states

def test_final_states_after_sending(db, run_once):
    users = [db.add_carded_user(email="u%d@x.cn" % i) for i in range(3)]
    news = db.add_news()
    promotion = db.add_promotion(type=2)
    activity = db.add_activity()
    assert run_once() == 0
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id=%s", [news]) == 2
    assert db.scalar("SELECT status FROM sys_user_promotion WHERE id=%s", [promotion]) == 2
    assert db.query("SELECT push_state, push_count FROM operation_activity WHERE id=%s",
                    [activity]) == [{"push_state": 2, "push_count": 3}]
    for job, campaign in (("news", news), ("promotion", promotion), ("activity", activity)):
        run = db.run(job, campaign)
        assert run["state"] == "done"
        assert run["recipients"] == run["written"] == 3
    assert db.recipients(230) == sorted(users)
    assert db.recipients(231) == sorted(users)
    assert len(promotion_rows(db)) == 3


def test_campaign_matching_nobody_is_marked_sent_with_zero(db, run_once):
    db.add_carded_user(city="C1")
    news = db.add_news(region="C3")
    promotion = db.add_promotion(region="C3")
    activity = db.add_activity(region="C3")
    assert run_once() == 0
    assert db.queue_rows() == []
    assert promotion_rows(db) == []
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id=%s", [news]) == 2
    assert db.scalar("SELECT status FROM sys_user_promotion WHERE id=%s", [promotion]) == 2
    assert db.query("SELECT push_state, push_count FROM operation_activity WHERE id=%s",
                    [activity]) == [{"push_state": 2, "push_count": 0}]
    for job, campaign in (("news", news), ("promotion", promotion), ("activity", activity)):
        run = db.run(job, campaign)
        assert run["state"] == "done"
        assert run["recipients"] == run["written"] == 0


# ---------------------------------------------------------------- content size

def test_news_content_over_8192_characters_fails_the_campaign(db, run_once):
    db.add_carded_user()
    items = [{"newsid": "n%d" % i, "title": "t" * 90} for i in range(100)]
    news = db.add_news(content=items)
    code = run_once()
    assert db.queue_rows() == []
    run = db.run("news", news)
    assert run["state"] == "failed"
    assert "content" in run["last_error"]
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id=%s", [news]) == 1
    assert code == 1


def test_promotion_json_data_over_8192_characters_fails_naming_json_data(db, run_once):
    db.add_carded_user()
    promotion = db.add_promotion(json_data=json.dumps({"params": {"text": "x" * 9000}}))
    code = run_once()
    assert db.queue_rows() == []
    run = db.run("promotion", promotion)
    assert run["state"] == "failed"
    assert "json_data" in run["last_error"]
    assert db.scalar("SELECT status FROM sys_user_promotion WHERE id=%s", [promotion]) == 1
    assert code == 1


def test_activity_content_over_8192_characters_fails(db, run_once):
    db.add_carded_user()
    activity = db.add_activity(content="活" * 8200)
    code = run_once()
    assert db.queue_rows() == []
    run = db.run("activity", activity)
    assert run["state"] == "failed"
    assert "content" in run["last_error"]
    assert db.scalar("SELECT push_state FROM operation_activity WHERE id=%s",
                     [activity]) == 1
    assert code == 1


def test_3000_chinese_characters_fit_characters_not_bytes(db, run_once):
    db.add_carded_user()
    body = "中" * 3000
    items = [{"newsid": "n1", "title": "长文", "summary": body}]
    news = db.add_news(content=items)
    promotion = db.add_promotion(type=1, content=body)
    activity = db.add_activity(content=body)
    assert run_once() == 0
    rows = db.queue_rows()
    assert len(rows) == 3
    for row in rows:
        assert len(row["content"].encode("utf-8")) > 8192
    news_row = only_row(db.queue_rows(230))
    assert json.loads(news_row["content"]) == {"messagetype": 230, "params": {"data": items}}
    contents = sorted(json.loads(r["content"])["params"]["content"]
                      for r in db.queue_rows(231))
    assert contents == [body, body]
    for job, campaign in (("news", news), ("promotion", promotion), ("activity", activity)):
        assert db.run(job, campaign)["state"] == "done"


# ---------------------------------------------------------------- bad input fails alone

def _json(value):
    return json.dumps(value, ensure_ascii=False)


BAD_NEWS = [
    ("invalid JSON", dict(content='[{"newsid": "n1", "title": "t"'), "content"),
    ("JSON string", dict(content='"只是字符串"'), "content"),
    ("JSON number", dict(content="42"), "content"),
    ("params missing", dict(content=_json({"messagetype": 230})), "content"),
    ("params not object", dict(content=_json({"messagetype": 230, "params": [1]})),
     "content"),
    ("empty list", dict(content="[]"), "content"),
    ("empty data", dict(content=_json({"data": []})), "content"),
    ("item without newsid", dict(content=_json([{"title": "t"}])), "content"),
    ("item without title", dict(content=_json([{"newsid": "n1"}])), "content"),
    ("newsid not a string", dict(content=_json([{"newsid": 5, "title": "t"}])), "content"),
    ("title not a string", dict(content=_json([{"newsid": "n1", "title": ["t"]}])),
     "content"),
    ("item not an object", dict(content=_json(["n1"])), "content"),
    ("NaN", dict(content='[{"newsid": "n1", "title": "t", "score": NaN}]'), "content"),
    ("push_time 0", dict(push_time=0), "push_time"),
    ("push_time negative", dict(push_time=-100), "push_time"),
    ("invalid region code", dict(region="C1,广东"), "region"),
]
BAD_PROMOTIONS = [
    ("type 0", dict(type=0), "type"),
    ("type 9", dict(type=9), "type"),
    ("isalluser 7", dict(isalluser=7), "isalluser"),
    ("json_data invalid", dict(json_data="{not json"), "json_data"),
    ("json_data array", dict(json_data="[1, 2]"), "json_data"),
    ("json_data params missing", dict(json_data=_json({"messagetype": 245})), "json_data"),
    ("json_data params string", dict(json_data=_json({"params": "x"})), "json_data"),
    ("json_data messagetype abc",
     dict(json_data=_json({"messagetype": "abc", "params": {}})), "json_data"),
    ("json_data messagetype true",
     dict(json_data=_json({"messagetype": True, "params": {}})), "json_data"),
    ("json_data NaN", dict(json_data='{"params": {"x": NaN}}'), "json_data"),
    ("push_time 0", dict(push_time=0), "push_time"),
    ("push_time negative", dict(push_time=-1), "push_time"),
    ("invalid industry code", dict(industry="I11,I 12"), "industry"),
]
BAD_ACTIVITIES = [
    ("content NULL without json_data", dict(content=None, json_data=""), "content"),
    ("json_data invalid", dict(json_data="{"), "json_data"),
    ("json_data messagetype abc",
     dict(json_data=_json({"messagetype": "abc", "params": {"a": 1}})), "json_data"),
    ("json_data params missing", dict(json_data=_json({"messagetype": 231})), "json_data"),
    ("invalid func code", dict(func="F1;DROP"), "func"),
]
TABLES = {"news": "sns_qa_push_setting", "promotion": "sys_user_promotion",
          "activity": "operation_activity"}


def _add_bad_campaigns(db):
    """[(job, campaign id, field, case)] for every bad campaign of the three tables."""
    bad = []
    for case, values, field in BAD_NEWS:
        bad.append(("news", db.add_news(admin_id="bad-news", **values), field, case))
    for case, values, field in BAD_PROMOTIONS:
        bad.append(("promotion", db.add_promotion(admin_id="bad-promo", **values), field,
                    case))
    for case, values, field in BAD_ACTIVITIES:
        bad.append(("activity", db.add_activity(user_id="bad-act", **values), field, case))
    return bad


def _error_records_for(caplog, job, campaign_id):
    pattern = re.compile(r"%s\b.*\bid\W{0,3}%d\b" % (TABLES[job], campaign_id))
    return [r for r in caplog.records
            if r.levelno >= logging.ERROR and pattern.search(r.getMessage())]


def test_malformed_campaigns_fail_alone(db, run_once, caplog):
    caplog.set_level(logging.INFO)
    user = db.add_carded_user(email="ok@x.cn", mobile="13900000000")
    good_news = db.add_news(admin_id="ok-news")
    good_promotion = db.add_promotion(admin_id="ok-promo")
    good_email = db.add_promotion(type=2, admin_id="ok-email")
    good_activity = db.add_activity(user_id="ok-act")
    bad = _add_bad_campaigns(db)
    before = {(job, cid): legacy_row(db, TABLES[job], cid) for job, cid, _, _ in bad}

    first_code = run_once()

    rows = db.queue_rows()
    assert sorted((r["from_uid"], r["to_uid"]) for r in rows) == \
        [("ok-act", user), ("ok-news", user), ("ok-promo", user)]
    assert [(r["type"], r["email"]) for r in promotion_rows(db)] == [(2, "ok@x.cn")]
    for job, campaign in (("news", good_news), ("promotion", good_promotion),
                          ("promotion", good_email), ("activity", good_activity)):
        assert db.run(job, campaign)["state"] == "done"
    problems = []
    for job, campaign, field, case in bad:
        run = db.run(job, campaign)
        if run is None or run["state"] != "failed" or field not in run["last_error"]:
            problems.append((job, case, field, run and (run["state"], run["last_error"])))
        if legacy_row(db, TABLES[job], campaign) != before[(job, campaign)]:
            problems.append((job, case, "legacy row changed"))
        if len(_error_records_for(caplog, job, campaign)) != 1:
            problems.append((job, case, "expected one ERROR naming %s id %d"
                             % (TABLES[job], campaign)))
    assert problems == []
    assert first_code == 1

    caplog.clear()
    assert run_once() == 0
    assert len(db.queue_rows()) == 3
    assert len(promotion_rows(db)) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    for job, campaign, _, _ in bad:
        assert db.run(job, campaign)["state"] == "failed"
        assert legacy_row(db, TABLES[job], campaign) == before[(job, campaign)]


@pytest.mark.parametrize("job", ["news", "promotion", "activity"])
def test_fixed_failed_campaign_goes_out_at_next_poll(db, run_once, job):
    user = db.add_carded_user()
    if job == "news":
        campaign = db.add_news(content="{broken")
        fix = ("UPDATE sns_qa_push_setting SET content=%s WHERE id=%s",
               [_json([{"newsid": "n1", "title": "修好了"}])])
    elif job == "promotion":
        campaign = db.add_promotion(json_data='{"params": 1}')
        fix = ("UPDATE sys_user_promotion SET json_data=%s WHERE id=%s",
               [_json({"params": {"text": "修好了"}})])
    else:
        campaign = db.add_activity(content=None)
        fix = ("UPDATE operation_activity SET content=%s WHERE id=%s", ["修好了"])
    first_code = run_once()
    assert db.run(job, campaign)["state"] == "failed"
    assert db.queue_rows() == []

    db.query(fix[0], fix[1] + [campaign])
    assert run_once() == 0
    rows = db.queue_rows()
    assert [r["to_uid"] for r in rows] == [user]
    assert "修好了" in rows[0]["content"]
    run = db.run(job, campaign)
    assert run["state"] == "done"
    assert run["recipients"] == run["written"] == 1
    assert first_code == 1


# ---------------------------------------------------------------- idempotence, batches

def test_second_run_writes_nothing_new_for_every_job(db, run_once):
    for i in range(3):
        db.add_carded_user(email="u%d@x.cn" % i, mobile="1380000000%d" % i)
    db.add_news()
    db.add_promotion(type=1)
    db.add_promotion(type=2)
    db.add_promotion(type=3)
    db.add_activity()
    assert run_once() == 0
    queue, promotion = db.queue_rows(), promotion_rows(db)
    assert len(queue) == 9
    assert len(promotion) == 6
    assert run_once() == 0
    assert db.queue_rows() == queue
    assert promotion_rows(db) == promotion


@pytest.mark.parametrize("job", ["news", "promotion_email", "activity"])
def test_small_batch_size_writes_each_recipient_once(db, run_once, job):
    users = [db.add_carded_user(email="b%d@x.cn" % i) for i in range(7)]
    if job == "news":
        campaign, key = db.add_news(), "news"
    elif job == "promotion_email":
        campaign, key = db.add_promotion(type=2), "promotion"
    else:
        campaign, key = db.add_activity(), "activity"
    assert run_once(batch_size=2) == 0
    if job == "promotion_email":
        assert sorted(r["email"] for r in promotion_rows(db)) == \
            sorted("b%d@x.cn" % i for i in range(7))
    else:
        assert db.recipients() == sorted(users)
    run = db.run(key, campaign)
    assert run["state"] == "done"
    assert run["recipients"] == run["written"] == 7
    if job == "activity":
        assert db.scalar("SELECT push_count FROM operation_activity WHERE id=%s",
                         [campaign]) == 7


def test_once_process_exits_1_when_a_campaign_fails_and_writes_the_others(db, config_path):
    from testkit.process import run_main
    user = db.add_carded_user()
    good = db.add_news(admin_id="ok-news")
    bad = db.add_news(content="{broken")
    result = run_main(config_path, "--once", timeout=60)
    assert db.recipients() == [user]
    assert db.run("news", good)["state"] == "done"
    assert db.run("news", bad)["state"] == "failed"
    assert result.returncode == 1, result.stderr
