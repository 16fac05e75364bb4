import json


def test_news_reaches_matching_user(db, run_once):
    user = db.add_carded_user()
    other = db.add_carded_user(city="C3")
    news = db.add_news()
    assert run_once() == 0
    rows = db.queue_rows(230)
    assert [r["to_uid"] for r in rows] == [user]
    assert json.loads(rows[0]["content"])["messagetype"] == 230
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id=%s", [news]) == 2
    assert db.run("news", news)["state"] == "done"
    assert other not in db.recipients()
