"""Issue 3, point 4: a corpus of malformed campaign rows, mixed with valid ones, all due
at once, through the real long-running main.py for several polls.

Promises checked (README "States", "What is written", "Who receives a campaign"):
every valid campaign is written exactly once, with exact rows; every malformed one is
recorded `failed` with a last_error naming the field, its legacy row untouched; no
job thread dies; pushing.log holds exactly ONE ERROR line per malformed row, however
many polls pass; rows that are not due (far future, offline) leave no trace at all.

Not repeated here (already in tests/test_messages.py `BAD_NEWS` / `BAD_PROMOTIONS` /
`BAD_ACTIVITIES`, run in-process by test_malformed_campaigns_fail_alone): invalid
JSON, JSON string/number, news params missing / not an object, `[]`, `{"data": []}`,
items without newsid/title, newsid 5, title ["t"], item "n1", NaN, push_time 0 / -100
/ -1, promotion type 0 / 9, isalluser 7, json_data invalid / array / params missing /
params "x" / messagetype "abc" / true / NaN, activity content NULL, region "C1,广东",
industry "I 12", func "F1;DROP"; content over 8192 characters (news, promotion
json_data, activity content) and messagetype 70000 (test_messages.py); one code list of
300 codes per dimension and the invalid codes of BAD_CODES on news
(test_targeting.py); far-future and offline activities (test_due.py). The corpus
below adds the variants those miss, on all three tables, and runs them all in ONE
long-running daemon.

Emoji (4-byte characters): the legacy schema mixes utf8 (3-byte) and utf8mb4 columns
and the server (strict mode) refuses 4-byte characters in the former. What the platform
can hold is pinned down by test_which_legacy_columns_hold_4_byte_characters; the corpus
puts emoji only where they fit (news content and region, promotion title, activity
json_data and url), and gets emoji into utf8 columns the way the platform can: as JSON
`\\ud83d\\ude00` escapes or HTML `&#128512;` entities.
"""
from __future__ import annotations

import json
import re
import signal
import time
from collections import namedtuple

import pymysql
import pytest

from testkit.db import add_campaign
from testkit.process import read_log, run_main, start_daemon, write_config
from testkit.wait import wait_until

TABLES = {"news": "sns_qa_push_setting", "promotion": "sys_user_promotion",
          "activity": "operation_activity"}
NEWS_TYPE, IN_APP_TYPE = 230, 231
PRO_CREATED, ACT_CREATED = 1700000001, 1700000002   # created_time of testkit's builders
FAR_FUTURE = 2147483647                              # the largest push_time an int holds
QUEUE_MAX = 8192


def j(value):
    """Text as an admin backend would store it (not compact)."""
    return json.dumps(value, ensure_ascii=False)


def compact(value):
    """The README's encoding of everything written: compact UTF-8, not \\u-escaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def news_message(items):
    return compact({"messagetype": NEWS_TYPE, "params": {"data": items}})


def news_items_of_size(size):
    """One news item whose full message is exactly `size` characters (emoji included)."""
    items = [{"newsid": "n-size", "title": ""}]
    room = size - len(news_message(items))
    items[0]["title"] = ("界😀" * size)[:room]
    assert len(news_message(items)) == size
    return items


def promo_message(pro_id, title, content, url="https://x/p"):
    return compact({"messagetype": IN_APP_TYPE, "params": {
        "id": pro_id, "title": title, "content": content, "createdtime": PRO_CREATED,
        "image": "", "type": "user", "url": url}})


def act_message(activity_id, title, content, url="https://x/a", image="https://x/a.png"):
    return compact({"messagetype": IN_APP_TYPE, "params": {
        "id": activity_id, "title": title, "content": content, "createdtime": ACT_CREATED,
        "image": image, "type": "activity", "url": url}})


def codes(prefix, count, real, separators=(",",)):
    """`count` codes nobody has, then the one that matches, LAST (the whole list is used)."""
    items = ["%s%03d" % (prefix, i) for i in range(count)] + [real]
    text = items[0]
    for number, item in enumerate(items[1:]):
        text += separators[number % len(separators)] + item
    return text


ITEM = {"newsid": "n1", "title": "标题"}
SECOND_BAD = [ITEM, {"newsid": "n2"}]

# ------------------------------------------------------------------------------ corpus
# job, overrides of the testkit builder (add_news / add_promotion / add_activity),
# and the field the failure must name. One line per malformed row.
Bad = namedtuple("Bad", "name job values field")
BAD = [
    # news content: JSON that is not a news list, or items of the wrong shape
    Bad("empty content", "news", dict(content=""), "content"),
    Bad("blank content", "news", dict(content="  \n "), "content"),
    Bad("JSON null", "news", dict(content="null"), "content"),
    Bad("JSON true", "news", dict(content="true"), "content"),
    Bad("object without data", "news", dict(content="{}"), "content"),
    Bad("data is a string", "news", dict(content=j({"data": "n1"})), "content"),
    Bad("data is an object", "news", dict(content=j({"data": ITEM})), "content"),
    Bad("full message, messagetype 231", "news",
        dict(content=j({"messagetype": 231, "params": {"data": [ITEM]}})), "content"),
    Bad("full message, messagetype '230'", "news",
        dict(content=j({"messagetype": "230", "params": {"data": [ITEM]}})), "content"),
    Bad("full message, params null", "news",
        dict(content=j({"messagetype": 230, "params": None})), "content"),
    Bad("full message, data empty", "news",
        dict(content=j({"messagetype": 230, "params": {"data": []}})), "content"),
    Bad("item null", "news", dict(content="[null]"), "content"),
    Bad("newsid empty", "news", dict(content=j([{"newsid": "", "title": "t"}])), "content"),
    Bad("newsid blank", "news", dict(content=j([{"newsid": "  ", "title": "t"}])), "content"),
    Bad("title null", "news", dict(content=j([{"newsid": "n1", "title": None}])), "content"),
    Bad("title a number", "news", dict(content=j([{"newsid": "n1", "title": 0}])), "content"),
    Bad("second item without title", "news", dict(content=j(SECOND_BAD)), "content"),
    Bad("Infinity", "news", dict(content='[{"newsid":"n1","title":"t","x":Infinity}]'),
        "content"),
    Bad("trailing garbage", "news", dict(content=j([ITEM]) + " x"), "content"),
    Bad("lone surrogate escape", "news",
        dict(content='[{"newsid":"n1","title":"\\ud800"}]'), "content"),
    Bad("8193 characters once in the envelope", "news",
        dict(content=j(news_items_of_size(QUEUE_MAX + 1))), "content"),
    # news code lists
    Bad("emoji code", "news", dict(region="C1,😀"), "region"),
    Bad("regex metacharacters", "news", dict(func="F1,F1)|(.*"), "func"),
    Bad("zero-width space in code", "news", dict(industry="I11,I11\u200b"), "industry"),
    Bad("tab inside code", "news", dict(region="C1,C2\tC3"), "region"),
    Bad("17-character industry", "news", dict(industry="I11," + "I" * 17), "industry"),
    Bad("wildcard", "news", dict(func="F1,*"), "func"),
    # promotion: type and scope
    Bad("type -1", "promotion", dict(type=-1), "type"),
    Bad("type 4", "promotion", dict(type=4), "type"),
    Bad("isalluser 0", "promotion", dict(isalluser=0), "isalluser"),
    Bad("isalluser 3", "promotion", dict(isalluser=3), "isalluser"),
    # promotion json_data
    Bad("json_data null", "promotion", dict(json_data="null"), "json_data"),
    Bad("json_data string", "promotion", dict(json_data='"推广"'), "json_data"),
    Bad("json_data params null", "promotion", dict(json_data=j({"params": None})),
        "json_data"),
    Bad("json_data params array", "promotion", dict(json_data=j({"params": []})),
        "json_data"),
    Bad("messagetype 0", "promotion", dict(json_data=j({"messagetype": 0, "params": {}})),
        "json_data"),
    Bad("messagetype -5", "promotion", dict(json_data=j({"messagetype": -5, "params": {}})),
        "json_data"),
    Bad("messagetype 32768", "promotion",
        dict(json_data=j({"messagetype": 32768, "params": {}})), "json_data"),
    Bad("messagetype 231.0", "promotion",
        dict(json_data=j({"messagetype": 231.0, "params": {}})), "json_data"),
    Bad("messagetype '231'", "promotion",
        dict(json_data=j({"messagetype": "231", "params": {}})), "json_data"),
    Bad("json_data lone surrogate", "promotion",
        dict(json_data='{"params":{"t":"\\udc00"}}'), "json_data"),
    # promotion content: oversized once encoded, empty, or no text once HTML goes
    Bad("in-app 4100 quotes = 8200 once escaped", "promotion",
        dict(type=1, content='"' * 4100), "content"),
    Bad("in-app 9000 characters", "promotion", dict(type=1, content="推" * 9000), "content"),
    Bad("email content empty", "promotion", dict(type=2, content=""), "content"),
    Bad("email content blank", "promotion", dict(type=2, content=" \n\t "), "content"),
    Bad("SMS only tags", "promotion", dict(type=3, content="<p></p><br/>"), "content"),
    Bad("SMS only entities of spaces", "promotion", dict(type=3, content="&nbsp;<br>&#32;"),
        "content"),
    Bad("SMS content empty", "promotion", dict(type=3, content=""), "content"),
    # promotion code lists (in-app, email and SMS audiences)
    Bad("SQL in region", "promotion", dict(region="C1,1' OR '1'='1"), "region"),
    Bad("double quotes", "promotion", dict(type=2, func='F1,"F2"'), "func"),
    Bad("Chinese industry", "promotion", dict(type=3, industry="I11,互联网"), "industry"),
    Bad("space inside region", "promotion", dict(region="C1,C2 C3"), "region"),
    Bad("SQL statement in func", "promotion",
        dict(func="F1;DELETE FROM message_queue"), "func"),
    # activity
    Bad("onlinetime 0", "activity", dict(onlinetime=0), "onlinetime"),
    Bad("onlinetime -1", "activity", dict(onlinetime=-1), "onlinetime"),
    Bad("json_data array", "activity", dict(json_data="[]"), "json_data"),
    Bad("json_data string", "activity", dict(json_data='"活动"'), "json_data"),
    Bad("json_data params string", "activity", dict(json_data=j({"params": "s"})),
        "json_data"),
    Bad("json_data messagetype 0", "activity",
        dict(json_data=j({"messagetype": 0, "params": {}})), "json_data"),
    Bad("json_data 8200 emoji", "activity",
        dict(json_data=j({"params": {"t": "😀" * 8200}})), "json_data"),
    Bad("json_data lone surrogate", "activity",
        dict(json_data='{"params":{"t":"a\\ud83d"}}'), "json_data"),
    Bad("1400 control characters = 8400 once escaped", "activity",
        dict(content="\x01" * 1400), "content"),
    Bad("content NULL, json_data blank", "activity", dict(content=None, json_data="  "),
        "content"),
    Bad("SQL in region", "activity", dict(region="C1' OR 1=1 -- "), "region"),
    Bad("space inside func", "activity", dict(func="F1,F 2"), "func"),
    Bad("full-width letters", "activity", dict(industry="I11,ＩＩ"), "industry"),
    Bad("backslash", "activity", dict(region="C1,C1\\"), "region"),
]

# Valid campaigns: each reaches exactly the two standard users, with this exact row.
# Queue rows: type, title, content. Promotion rows: type (2 email, 3 SMS), title, content.
Good = namedtuple("Good", "name job values expected")
_ESCAPED = "\\u4e2d\\u6587" * 800                     # 9,600 characters of JSON escapes...
_CHINESE = "中文" * 800                               # ...that are 1,600 characters
_PRETTY = json.dumps([{"newsid": "n%d" % i, "title": "缩进 %d" % i} for i in range(120)],
                     ensure_ascii=False, indent=40)
_EMOJI_TITLE = "😀🎉𠮷𝒜" * 18                          # 72 four-byte characters
_ESC_EMOJI = "\\ud83d\\ude00" * 2000                  # 24,000 characters of escapes
GOOD = [
    Good("hundreds of codes in all three lists", "news",
         dict(region=codes("R", 300, "C1", (",", "，", " , ")), industry=codes("J", 300, "I11"),
              func=codes("G", 300, "F1", ("，",)), content=j([ITEM])),
         dict(type=NEWS_TYPE, title="标题", content=news_message([ITEM]))),
    Good("4-byte title cut to 60 characters", "news",
         dict(content=j([{"newsid": "e1", "title": _EMOJI_TITLE}])),
         dict(type=NEWS_TYPE, title=_EMOJI_TITLE[:60],
              content=news_message([{"newsid": "e1", "title": _EMOJI_TITLE}]))),
    Good("exactly 8192 characters with emoji", "news",
         dict(content=j(news_items_of_size(QUEUE_MAX))),
         dict(type=NEWS_TYPE, title=news_items_of_size(QUEUE_MAX)[0]["title"][:60],
              content=news_message(news_items_of_size(QUEUE_MAX)))),
    Good("9,600 characters of \\u escapes = 1,600 once encoded", "news",
         dict(content='[{"newsid":"u1","title":"%s"}]' % _ESCAPED),
         dict(type=NEWS_TYPE, title=_CHINESE[:60],
              content=news_message([{"newsid": "u1", "title": _CHINESE}]))),
    Good("pretty-printed over 8192, compact under", "news", dict(content=_PRETTY),
         dict(type=NEWS_TYPE, title="缩进 0", content=news_message(json.loads(_PRETTY)))),
    Good("codes padded with tabs, full-width spaces and commas", "news",
         dict(region=" C1\t，　C2 ,,", industry="\tI11　", func="，F1 ,"),
         dict(type=NEWS_TYPE, title="新闻标题 📰", content=news_message(
             [{"newsid": "n1", "title": "新闻标题 📰", "url": "https://x/n1"}]))),
    Good("hundreds of codes, in-app", "promotion",
         dict(region=codes("R", 300, "C1"), industry=codes("J", 300, "I11", ("，",)),
              func=codes("G", 300, "F1"), pro_id="p-codes", title="多代码", content="内容"),
         dict(type=IN_APP_TYPE, title="多代码",
              content=promo_message("p-codes", "多代码", "内容"))),
    Good("4-byte title, emoji as \\u escapes in a utf8 json_data", "promotion",
         dict(title="推广 😀𠮷", json_data='{"messagetype":245,"params":{"e":"\\ud83d\\ude00"}}'),
         dict(type=245, title="推广 😀𠮷", content=compact(
             {"messagetype": 245, "params": {"e": "😀"}}))),
    Good("json_data: other top-level keys dropped", "promotion",
         dict(title="多余", json_data=j({"extra": 1, "params": {"k": "值"}, "messagetype": 240,
                                        "z": [1]})),
         dict(type=240, title="多余", content=compact({"messagetype": 240,
                                                      "params": {"k": "值"}}))),
    Good("json_data blank: built from the columns", "promotion",
         dict(pro_id="p-blank", title="空白", content="正文", json_data=" \n "),
         dict(type=IN_APP_TYPE, title="空白", content=promo_message("p-blank", "空白", "正文"))),
    Good("SMS: tags removed, entities decoded after, &#128512; emoji", "promotion",
         dict(type=3, title="短信 😀",
              content="<div><b>限时</b>优惠&#128512;<br/>&lt;b&gt;原样&lt;/b&gt; &amp; 更多</div>"),
         dict(type=3, title="短信 😀", content="限时优惠😀\n<b>原样</b> & 更多")),
    Good("SMS: json_data is not used, garbage there is harmless", "promotion",
         dict(type=3, title="短信二", content="纯文本", json_data="{not json"),
         dict(type=3, title="短信二", content="纯文本")),
    Good("email: HTML kept exactly, 4-byte title", "promotion",
         dict(type=2, title="邮件 📧𠮷", content="<p>尊敬的用户</p><script>x()</script>"),
         dict(type=2, title="邮件 📧𠮷", content="<p>尊敬的用户</p><script>x()</script>")),
    Good("dozens of codes in the 256-character lists", "activity",
         dict(region=codes("A", 50, "C1"), industry=codes("B", 50, "I11", ("，",)),
              func=codes("D", 50, "F1"), activity_id="a-codes", title="代码", content="内容"),
         dict(type=IN_APP_TYPE, title="代码", content=act_message("a-codes", "代码", "内容"))),
    Good("emoji in url (utf8mb4), Chinese in utf8 columns", "activity",
         dict(activity_id="a-url", title="活动", content="中文内容", url="https://x/😀"),
         dict(type=IN_APP_TYPE, title="活动",
              content=act_message("a-url", "活动", "中文内容", url="https://x/😀"))),
    Good("json_data of 24,000 characters of escapes = 2,000 emoji", "activity",
         dict(title="转义", json_data='{"params":{"e":"%s"}}' % _ESC_EMOJI),
         dict(type=IN_APP_TYPE, title="转义",
              content=compact({"messagetype": IN_APP_TYPE, "params": {"e": "😀" * 2000}}))),
    Good("json_data with 4-byte characters", "activity",
         dict(title="四字节", json_data=j({"messagetype": 250, "params": {"t": "𠮷😀🎈"}})),
         dict(type=250, title="四字节",
              content=compact({"messagetype": 250, "params": {"t": "𠮷😀🎈"}}))),
]

# Not due: no run record, no row, no log line, the legacy row untouched; even when
# the row is malformed as well (it is simply not looked at).
NotDue = namedtuple("NotDue", "name job values")
NOT_DUE = [
    NotDue("push_time far in the future", "news", dict(push_time=FAR_FUTURE)),
    NotDue("far future and malformed", "news", dict(push_time=FAR_FUTURE, content="{")),
    NotDue("already sent and malformed", "news", dict(status=2, content="{")),
    NotDue("push_time in 2033", "promotion", dict(push_time=2000000000)),
    NotDue("draft with type 9", "promotion", dict(status=0, type=9)),
    NotDue("far future and malformed", "promotion", dict(push_time=FAR_FUTURE,
                                                         json_data="[")),
    NotDue("onlinetime far in the future", "activity", dict(onlinetime=FAR_FUTURE)),
    NotDue("offline in the past", "activity", dict(onlinetime=1, offlinetime=2)),
    NotDue("offline in the past and malformed", "activity",
           dict(onlinetime=1, offlinetime=2, json_data="{", region="C1' --")),
]


# ------------------------------------------------------------------------------ helpers

def legacy_row(db, job, campaign):
    return db.query("SELECT * FROM `%s` WHERE id = %%s" % TABLES[job], [campaign])[0]


def sent(db, job, campaign):
    row = legacy_row(db, job, campaign)
    return (row["push_state"] if job == "activity" else row["status"]) == 2


LINE = re.compile(r"^\S+ (?P<level>[A-Z]+) (?P<thread>\S+) (?P<message>.*)$")
# In a job's own thread the line names the job once, by the thread name: the message
# starts 'campaign 4 (sns_qa_push_setting id 4)'; elsewhere 'news campaign 4 (...)'.
CAMPAIGN = re.compile(r"\bcampaign (?P<id>\d+) \((?P<table>\w+) id (?P=id)\)")


def log_lines(config, level=None):
    """(thread, message) of every log line, or of those at `level`."""
    lines = []
    for text in read_log(config).splitlines():
        match = LINE.match(text)
        if match and (level is None or match["level"] == level):
            lines.append((match["thread"], match["message"]))
    return lines


def error_lines_by_campaign(config):
    """{(table, id): [(thread, message)]} of the ERROR lines; lines naming no campaign
    go under (None, None)."""
    found = {}
    for thread, message in log_lines(config, "ERROR"):
        match = CAMPAIGN.search(message)
        key = (match["table"], int(match["id"])) if match else (None, None)
        found.setdefault(key, []).append((thread, message))
    return found


def settled(db, campaigns):
    try:
        rows = db.query("SELECT job, campaign_id, state FROM mh_campaign_run")
    except pymysql.err.ProgrammingError:  # the daemon has not created its tables yet
        return False
    states = {(row["job"], row["campaign_id"]): row["state"] for row in rows}
    return all(states.get(key) in ("done", "failed") for key in campaigns)


# ------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("table,column,holds", [
    ("sns_qa_push_setting", "content", True), ("sns_qa_push_setting", "region", True),
    ("sys_user_promotion", "title", True), ("sys_user_promotion", "content", False),
    ("sys_user_promotion", "json_data", False), ("sys_user_promotion", "region", False),
    ("operation_activity", "json_data", True), ("operation_activity", "url", True),
    ("operation_activity", "title", False), ("operation_activity", "content", False),
    ("operation_activity", "image", False),
])
def test_which_legacy_columns_hold_4_byte_characters(db, table, column, holds):
    """Where the corpus may put emoji: a 4-byte character in a utf8 column is refused
    by the server (strict mode), so no campaign can ever carry one there."""
    job = {value: key for key, value in TABLES.items()}[table]
    try:
        campaign = add_campaign(db, job, owner="emoji-probe", **{column: "x😀"})
    except pymysql.err.MySQLError as error:
        assert not holds, error
        assert error.args[0] == 1366  # Incorrect string value
        return
    assert holds, "%s.%s now holds 4-byte characters: move emoji cases there" % (table,
                                                                                 column)
    assert legacy_row(db, job, campaign)[column] == "x😀"


def test_bad_input_corpus_through_the_long_running_daemon(db, tmp_path):
    assert len(BAD) >= 40 and {case.job for case in BAD} == set(TABLES)  # the ask
    users = sorted(db.add_carded_user(email="u%d@example.cn" % i, mobile="1390000000%d" % i)
                   for i in range(2))
    emails = ["u0@example.cn", "u1@example.cn"]
    mobiles = ["13900000000", "13900000001"]
    db.add_carded_user(city="C3", industry="I21", func="F2", email="no@example.cn",
                       mobile="13700000000")  # matches none of the corpus

    bad = {}
    for number, case in enumerate(BAD):
        campaign = add_campaign(db, case.job, owner="bad-%d" % number, **case.values)
        bad[(case.job, campaign)] = case
    good = {}
    for number, case in enumerate(GOOD):
        campaign = add_campaign(db, case.job, owner="good-%d" % number, **case.values)
        good[(case.job, campaign)] = case
    not_due = {}
    for number, case in enumerate(NOT_DUE):
        campaign = add_campaign(db, case.job, owner="later-%d" % number, **case.values)
        not_due[(case.job, campaign)] = case
    before = {key: legacy_row(db, *key) for key in list(bad) + list(not_due)}

    config = write_config(str(tmp_path / "db.conf"), db.name, poll_interval=0.2)
    started = time.monotonic()
    daemon = start_daemon(config)
    try:
        wait_until(lambda: settled(db, list(bad) + list(good)), timeout=30, interval=0.1)
        # Several more polls of every job: one new campaign per job, twice, each must be
        # picked up by the job's thread (so no thread died), and no bad row may log again.
        for round_number in range(2):
            sentinels = [(job, add_campaign(db, job, owner="sentinel-%d" % round_number))
                         for job in TABLES]
            wait_until(lambda keys=sentinels: settled(db, keys), timeout=20, interval=0.1)
            for key in sentinels:
                good[key] = Good("sentinel", key[0], {}, None)
        time.sleep(1.0)  # five more polls of each job at 0.2 s
        assert daemon.poll() is None, "the daemon exited: %s" % (daemon.communicate(),)
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=15)
    assert daemon.returncode == 0, err
    elapsed = time.monotonic() - started

    problems = []
    # every malformed row: failed, the field named, the legacy row untouched, one ERROR
    errors = error_lines_by_campaign(config)
    for (job, campaign), case in bad.items():
        run = db.run(job, campaign)
        # Recognised as bad input: never started (no audience frozen), not left to the
        # server to refuse or to an internal error to stop.
        if run is None or run["state"] != "failed" or case.field not in run["last_error"] \
                or run["started_at"] is not None or run["recipients"] \
                or "refused" in run["last_error"] or "internal error" in run["last_error"]:
            problems.append((job, case.name, "want failed naming %r" % case.field,
                             run and (run["state"], run["last_error"][:200])))
        if legacy_row(db, job, campaign) != before[(job, campaign)]:
            problems.append((job, case.name, "legacy row changed"))
        lines = errors.pop((TABLES[job], campaign), [])
        if len(lines) != 1:
            problems.append((job, case.name, "%d ERROR lines" % len(lines), lines))
        elif lines[0][0] != job or case.field not in lines[0][1]:
            problems.append((job, case.name, "ERROR line from the %s thread naming %r"
                             % (job, case.field), lines))
    if errors:
        problems.append(("ERROR lines about no malformed row", errors))
    # not due: not even looked at
    for (job, campaign), case in not_due.items():
        if db.run(job, campaign) is not None or legacy_row(db, job, campaign) != \
                before[(job, campaign)]:
            problems.append((job, case.name, "not due, yet touched", db.run(job, campaign)))
        if "(%s id %d)" % (TABLES[job], campaign) in read_log(config):
            problems.append((job, case.name, "not due, yet logged"))
    assert problems == [], "\n".join(map(repr, problems))

    # every valid campaign: done, marked sent, exactly these rows, exactly once
    queue = db.queue_rows()
    queue_by_owner = {}
    for row in queue:
        queue_by_owner.setdefault(row["from_uid"], []).append(row)
    promotion_rows = db.query("SELECT * FROM message_promotion ORDER BY id")
    promotion_by_title = {}
    for row in promotion_rows:
        promotion_by_title.setdefault(row["title"], []).append(row)
    expected_queue = expected_promotion = 0
    for number, ((job, campaign), case) in enumerate(good.items()):
        run = db.run(job, campaign)
        assert (run["state"], run["recipients"], run["written"]) == ("done", 2, 2), \
            (case.name, run)
        assert sent(db, job, campaign), case.name
        if job == "activity":
            assert legacy_row(db, job, campaign)["push_count"] == 2
        if case.expected is None:  # a sentinel: the standard message, checked elsewhere
            expected_queue += 2
            continue
        expected = case.expected
        if expected["type"] in (2, 3):
            rows = promotion_by_title.pop(expected["title"], [])
            expected_promotion += 2
            addresses = emails if expected["type"] == 2 else mobiles
            assert sorted((r["email"], r["mobile"]) for r in rows) == sorted(
                (a, "") if expected["type"] == 2 else ("", a) for a in addresses), case.name
            for row in rows:
                assert (row["type"], row["title"], row["content"], row["status"]) == \
                    (expected["type"], expected["title"], expected["content"], 0), case.name
        else:
            rows = queue_by_owner.pop("good-%d" % number, [])
            expected_queue += 2
            assert sorted(r["to_uid"] for r in rows) == users, case.name
            for row in rows:
                assert (row["type"], row["title"], row["content"]) == \
                    (expected["type"], expected["title"], expected["content"]), case.name
    assert not [owner for owner in queue_by_owner if not owner.startswith("sentinel-")], \
        "rows of campaigns that must not be written: %s" % sorted(queue_by_owner)
    assert len(queue) == expected_queue
    assert promotion_by_title == {}
    assert len(promotion_rows) == expected_promotion

    # no thread died or hit a surprise; the run stayed quick
    assert [m for _, m in log_lines(config) if "poll failed" in m or "unexpected" in m] == []
    assert "Traceback" not in read_log(config)
    assert elapsed < 30

    # A later --once run: nothing failed during it (exit 0), nothing new written or logged.
    errors_before = len(log_lines(config, "ERROR"))
    result = run_main(config, "--once", timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(db.queue_rows()) == len(queue)
    assert db.scalar("SELECT COUNT(*) FROM message_promotion") == len(promotion_rows)
    assert len(log_lines(config, "ERROR")) == errors_before
