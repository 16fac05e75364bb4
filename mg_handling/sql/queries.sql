-- Every statement the daemon sends, by name (loaded by mg_handling/queries.py).
-- Values are always %(name)s parameters. `{name}` includes another entry of
-- this file verbatim; nothing else is ever pasted into SQL text.
-- Runs on MySQL 5.7 and MariaDB 10.3+: no CTEs, window functions, SKIP LOCKED
-- or REGEXP_REPLACE.

-- ---------------------------------------------------------------- due campaigns
-- One query per job and poll: the due campaigns joined to the daemon's own
-- record of them. Besides new campaigns it returns the ones to look at again:
-- running (to resume, even if no longer due), failed / skipped / expired
-- ones, which are tried again only when their row changed since, and the ones
-- an operator asked to retry. Done and cancelled campaigns never come back.

-- The columns each job reads from its campaign table (also used by `preview`).
-- name: news_columns
s.id, s.push_time, s.region, s.industry, s.func, s.content, s.admin_id, s.status

-- name: promotion_columns
p.id, p.pro_id, p.type, p.isalluser, p.push_time, p.region, p.industry, p.func,
p.title, p.content, p.created_time, p.admin_id, p.status, p.url, p.json_data

-- name: activity_columns
a.id, a.activity_id, a.isnotify, a.push_state, a.state, a.onlinetime, a.offlinetime,
a.region, a.industry, a.func, a.image, a.title, a.content, a.user_id,
a.created_time, a.url, a.json_data

-- Two branches each, so both can use an index: the due rows of the campaign
-- table (with deploy/recommended_indexes.sql), and the running runs of the job
-- (mh_campaign_run's state index). A running campaign comes from the second
-- branch only, so UNION ALL returns no row twice.
-- The daemon's columns beside the campaign's: their names start with mh_, and
-- a campaign table has no such column, so the store tells the two apart by
-- construction (the campaign's fingerprint covers the campaign's columns only).
-- name: run_columns
r.id AS mh_run_id, r.state AS mh_run_state, r.fingerprint AS mh_run_fingerprint,
UNIX_TIMESTAMP() AS mh_db_now

-- name: due_news
SELECT {news_columns}, {run_columns}
FROM sns_qa_push_setting s
LEFT JOIN mh_campaign_run r ON r.job = 'news' AND r.campaign_id = s.id
WHERE s.status <> 2 AND s.push_time <= UNIX_TIMESTAMP() + %(ahead)s
  AND (r.state IS NULL OR r.state NOT IN %(not_due_again)s)
UNION ALL
SELECT {news_columns}, {run_columns}
FROM mh_campaign_run r
JOIN sns_qa_push_setting s ON s.id = r.campaign_id
WHERE r.state = %(running)s AND r.job = 'news'
ORDER BY push_time, id;

-- name: due_promotion
SELECT {promotion_columns}, {run_columns}
FROM sys_user_promotion p
LEFT JOIN mh_campaign_run r ON r.job = 'promotion' AND r.campaign_id = p.id
WHERE p.status = 1 AND p.push_time <= UNIX_TIMESTAMP() + %(ahead)s
  AND (r.state IS NULL OR r.state NOT IN %(not_due_again)s)
UNION ALL
SELECT {promotion_columns}, {run_columns}
FROM mh_campaign_run r
JOIN sys_user_promotion p ON p.id = r.campaign_id
WHERE r.state = %(running)s AND r.job = 'promotion'
ORDER BY push_time, id;

-- name: due_activity
SELECT {activity_columns}, {run_columns}
FROM operation_activity a
LEFT JOIN mh_campaign_run r ON r.job = 'activity' AND r.campaign_id = a.id
WHERE a.isnotify = 2 AND a.state = 2 AND a.push_state <> 2
  AND a.onlinetime <= UNIX_TIMESTAMP() + %(ahead)s
  AND (a.offlinetime = 0 OR a.offlinetime > UNIX_TIMESTAMP())
  AND (r.state IS NULL OR r.state NOT IN %(not_due_again)s)
UNION ALL
SELECT {activity_columns}, {run_columns}
FROM mh_campaign_run r
JOIN operation_activity a ON a.id = r.campaign_id
WHERE r.state = %(running)s AND r.job = 'activity'
ORDER BY onlinetime, id;

-- ---------------------------------------------------------------- targeting
-- A province code also matches the user cities inside it; a level-1 industry
-- also matches the level-2 industries under it ('' and '0' are no parent).

-- name: cities_in_provinces
SELECT prefecture_code AS code FROM province_city_code WHERE province_code IN %(codes)s;

-- name: industries_under
SELECT category_id AS code FROM industry_category
WHERE parent_id IN %(codes)s AND parent_id NOT IN ('', '0');

-- The users a campaign reaches, in two plans with the same result. The card
-- tables are utf8 and the account tables utf8mb4: the side that is converted
-- decides which card_id index can be used.
--
-- The scan plan reads account_basic_detail once, in order, and looks each user
-- up in in-memory sets (the cards of the region, the users and cards of the
-- industries, the cards of the functions), each built by one pass over its
-- table, once, the first time it is needed: the right plan when the region
-- reaches many users. An OR tries its cheap side first, so a user whose
-- profile city or category map matches is never looked up in the card set.
-- Per-user index lookups into the card tables instead would be random reads
-- that collapse once the tables outgrow the buffer pool (README
-- "Performance"); IGNORE INDEX keeps each set a sequential scan.
-- name: matching_profiles
d.card_id <> ''
  AND (d.city_code IN %(cities)s
       OR CONVERT(d.card_id USING utf8) IN (
            SELECT c.card_id FROM card_info_jsonver c IGNORE INDEX (card_id)
            WHERE c.cityM_code IN %(regions)s OR c.provinceM_code IN %(regions)s))
  AND (d.user_id IN (
            SELECT m.account_id FROM account_basic_category_map m IGNORE INDEX (account_id)
            WHERE m.category_id IN %(industries)s)
       OR CONVERT(d.card_id USING utf8) IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.ind_code IN %(industries)s))
  AND CONVERT(d.card_id USING utf8) IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.func_code REGEXP %(func_pattern)s)

-- The account row, for the audiences that need its email or mobile: read
-- only for the profiles that matched.
-- name: matching_users
FROM account_basic_detail d
STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id
WHERE {matching_profiles}
  AND u.status = 'active'

-- The narrow plan starts from the region's users and cards through the
-- indexes of deploy/recommended_indexes.sql (city, then card region), so a
-- campaign for a small region reads only its own users. The second branch
-- leaves out users the first one found, so UNION ALL never repeats a user.
-- name: matched_users_narrow
SELECT u.user_id, u.email, u.mobile
FROM account_basic_detail d
JOIN account_basic u ON u.user_id = d.user_id
WHERE d.city_code IN %(cities)s
{industry_and_function_match}
UNION ALL
SELECT u.user_id, u.email, u.mobile
FROM (SELECT DISTINCT CONVERT(c.card_id USING utf8mb4) AS card_id FROM card_info_jsonver c
      WHERE c.cityM_code IN %(regions)s OR c.provinceM_code IN %(regions)s) region_cards
STRAIGHT_JOIN account_basic_detail d ON d.card_id = region_cards.card_id
STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id
WHERE d.city_code NOT IN %(cities)s
{industry_and_function_match}

-- What the narrow plan asks of a user besides the region (u and d in scope).
-- Scalar subqueries, so each is an index lookup for the few users of the
-- region: written as EXISTS, the optimizer may turn them into a full pass
-- over the company table instead, the very cost the narrow plan avoids.
-- name: industry_and_function_match
  AND u.status = 'active'
  AND d.card_id <> ''
  AND COALESCE(
        (SELECT 1 FROM account_basic_category_map m
         WHERE m.account_id = u.user_id AND m.category_id IN %(industries)s LIMIT 1),
        (SELECT 1 FROM company_info_jsonVer co
         WHERE co.card_id = CONVERT(d.card_id USING utf8) AND co.ind_code IN %(industries)s
         LIMIT 1)) IS NOT NULL
  AND (SELECT 1 FROM company_info_jsonVer co
       WHERE co.card_id = CONVERT(d.card_id USING utf8) AND co.func_code REGEXP %(func_pattern)s
       LIMIT 1) IS NOT NULL

-- Mobiles of business cards whose own data matches, registered or not: each
-- card looked up in the three sets (13.1 s at 1M users for a 30 % SMS
-- audience, against 14.0 s as joins of DISTINCT sets).
-- name: matching_card_mobiles
SELECT TRIM(c.mobile) AS recipient
FROM card_info_jsonver c
WHERE c.card_id <> '' AND TRIM(c.mobile) <> '' AND CHAR_LENGTH(TRIM(c.mobile)) <= 18
  AND c.card_id IN (SELECT r.card_id FROM card_info_jsonver r IGNORE INDEX (card_id)
                    WHERE r.cityM_code IN %(regions)s OR r.provinceM_code IN %(regions)s)
  AND c.card_id IN (SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
                    WHERE co.ind_code IN %(industries)s)
  AND c.card_id IN (SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
                    WHERE co.func_code REGEXP %(func_pattern)s)

-- How far a region reaches, and whether the tables the audience reads fit in
-- the buffer pool, to choose the plan (index-only counts with the recommended
-- indexes; the plan is chosen only when they exist).
-- name: region_reach
SELECT (SELECT COUNT(*) FROM account_basic_detail WHERE city_code IN %(cities)s)
     + (SELECT COUNT(*) FROM card_info_jsonver
        WHERE cityM_code IN %(regions)s OR provinceM_code IN %(regions)s) AS reach,
       (SELECT table_rows FROM information_schema.TABLES
        WHERE table_schema = DATABASE() AND table_name = 'account_basic_detail') AS users,
       (SELECT SUM(data_length + index_length) FROM information_schema.TABLES
        WHERE table_schema = DATABASE()
          AND table_name IN ('account_basic', 'account_basic_detail', 'card_info_jsonver',
                             'company_info_jsonVer', 'account_basic_category_map'))
         AS data_bytes,
       @@innodb_buffer_pool_size AS buffer_pool_bytes;

-- name: indexed_columns
SELECT DISTINCT table_name, column_name FROM information_schema.STATISTICS
WHERE table_schema = DATABASE() AND seq_in_index = 1
  AND table_name IN ('account_basic_detail', 'card_info_jsonver');

-- ---------------------------------------------------------------- audiences
-- What each kind of audience is: one recipient per row, no duplicates. The
-- fill_* statements freeze it once per campaign, in one statement; `preview`
-- counts the same SELECT without writing.

-- The user audience needs no account column but the status: the active
-- users are one more in-memory set, cheaper than an index lookup per profile.
-- name: audience_users
SELECT d.user_id AS recipient
FROM account_basic_detail d
WHERE {matching_profiles}
  AND d.user_id IN (SELECT u.user_id FROM account_basic u IGNORE INDEX (user_id)
                    WHERE u.status = 'active')

-- name: audience_emails
SELECT DISTINCT TRIM(u.email) AS recipient
{matching_users}
  AND TRIM(u.email) <> ''

-- name: audience_mobiles
SELECT DISTINCT TRIM(u.mobile) AS recipient
{matching_users}
  AND TRIM(u.mobile) <> ''

-- name: audience_mobiles_and_cards
SELECT TRIM(u.mobile) AS recipient
{matching_users}
  AND TRIM(u.mobile) <> ''
UNION
{matching_card_mobiles}

-- The same audiences through the narrow plan.
-- name: audience_users_narrow
SELECT m.user_id AS recipient FROM ({matched_users_narrow}) m

-- name: audience_emails_narrow
SELECT DISTINCT TRIM(m.email) AS recipient FROM ({matched_users_narrow}) m
WHERE TRIM(m.email) <> ''

-- name: audience_mobiles_narrow
SELECT DISTINCT TRIM(m.mobile) AS recipient FROM ({matched_users_narrow}) m
WHERE TRIM(m.mobile) <> ''

-- name: audience_mobiles_and_cards_narrow
SELECT TRIM(m.mobile) AS recipient FROM ({matched_users_narrow}) m
WHERE TRIM(m.mobile) <> ''
UNION
{matching_card_mobiles}

-- A user audience is frozen in user_id order, so the chunks write
-- message_queue's to_uid index in order, at its end (838k recipients: 7.6 s
-- of writing instead of 10.4, for nothing at the freeze).
-- name: fill_audience_users
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_users}) a
ORDER BY a.recipient;

-- name: fill_audience_emails
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_emails}) a;

-- name: fill_audience_mobiles
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_mobiles}) a;

-- name: fill_audience_mobiles_and_cards
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_mobiles_and_cards}) a;

-- name: fill_audience_users_narrow
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_users_narrow}) a
ORDER BY a.recipient;

-- name: fill_audience_emails_narrow
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_emails_narrow}) a;

-- name: fill_audience_mobiles_narrow
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_mobiles_narrow}) a;

-- name: fill_audience_mobiles_and_cards_narrow
INSERT INTO mh_audience (run_id, recipient)
SELECT %(run_id)s, a.recipient FROM ({audience_mobiles_and_cards_narrow}) a;

-- name: clear_audience
DELETE FROM mh_audience WHERE run_id = %(run_id)s;

-- The id range of a frozen audience (two reads of the run_id index). Chunks
-- are id ranges of at most batch_size ids inside it: an id is unique, so a
-- chunk never holds more rows than that, and the range needs no query.
-- name: audience_bounds
SELECT COALESCE(MIN(id) - 1, 0) AS first_after, COALESCE(MAX(id), 0) AS last_audience_id
FROM mh_audience WHERE run_id = %(run_id)s;

-- name: prune_audience
DELETE FROM mh_audience WHERE run_id = %(run_id)s ORDER BY id LIMIT %(limit)s;

-- A done run no longer needs its audience. A failed or cancelled one keeps it:
-- when it is retried it goes on from its resume point.
-- name: runs_with_leftover_audience
SELECT r.id FROM mh_campaign_run r
WHERE r.state = %(done)s AND (%(job)s IS NULL OR r.job = %(job)s)
  AND EXISTS (SELECT 1 FROM mh_audience a WHERE a.run_id = r.id);

-- ---------------------------------------------------------------- runs

-- name: ensure_run
INSERT IGNORE INTO mh_campaign_run (job, campaign_id, state)
VALUES (%(job)s, %(campaign_id)s, %(pending)s);

-- Every column of a run row (mg_handling.store.Run).
-- name: run_row
id, job, campaign_id, state, fingerprint, target, message, recipients, written,
resume_after, last_audience_id, attempts, last_error, created_at, started_at,
finished_at, updated_at

-- name: lock_run_of_campaign
SELECT {run_row}, IS_USED_LOCK(%(lock_name)s) AS lock_holder
FROM mh_campaign_run
WHERE job = %(job)s AND campaign_id = %(campaign_id)s FOR UPDATE;

-- name: lock_run
SELECT {run_row}, IS_USED_LOCK(%(lock_name)s) AS lock_holder
FROM mh_campaign_run WHERE id = %(run_id)s FOR UPDATE;

-- name: record_outcome
UPDATE mh_campaign_run
SET state = %(state)s, fingerprint = %(fingerprint)s, last_error = %(reason)s,
    attempts = attempts + 1, finished_at = NOW(), updated_at = NOW()
WHERE id = %(run_id)s;

-- name: start_run
UPDATE mh_campaign_run
SET state = %(running)s, fingerprint = %(fingerprint)s, target = %(target)s,
    message = %(message)s, recipients = %(recipients)s, written = 0,
    resume_after = %(first_after)s,
    last_audience_id = %(last_audience_id)s, attempts = attempts + 1, last_error = '',
    started_at = NOW(), finished_at = NULL, updated_at = NOW()
WHERE id = %(run_id)s;

-- A run that failed after writing some chunks goes on where it stopped, with
-- the corrected message, so nobody who already has a row gets a second one.
-- name: resume_run
UPDATE mh_campaign_run
SET state = %(running)s, fingerprint = %(fingerprint)s, target = %(target)s,
    message = %(message)s, attempts = attempts + 1, last_error = '',
    finished_at = NULL, updated_at = NOW()
WHERE id = %(run_id)s;

-- name: advance_run
UPDATE mh_campaign_run
SET resume_after = %(until)s, written = written + %(written)s, updated_at = NOW()
WHERE id = %(run_id)s;

-- name: finish_run
UPDATE mh_campaign_run
SET state = %(done)s, finished_at = NOW(), updated_at = NOW()
WHERE id = %(run_id)s;

-- ---------------------------------------------------------------- writing

-- name: write_message_queue
INSERT INTO message_queue
    (type, to_uid, from_uid, content, nflag, created_time, modified_time, isread, title)
SELECT %(message_type)s, a.recipient, %(from_uid)s, %(content)s, 0,
       CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED),
       CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED), 0, %(title)s
FROM mh_audience a
WHERE a.run_id = %(run_id)s AND a.id > %(after)s AND a.id <= %(until)s
ORDER BY a.id;

-- name: write_message_promotion
INSERT INTO message_promotion
    (type, mobile, email, title, content, created_time, modified_time, status)
SELECT %(message_type)s,
       IF(%(message_type)s = 3, a.recipient, ''), IF(%(message_type)s = 2, a.recipient, ''),
       %(title)s, %(content)s, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), 0
FROM mh_audience a
WHERE a.run_id = %(run_id)s AND a.id > %(after)s AND a.id <= %(until)s
ORDER BY a.id;

-- name: mark_sent_news
UPDATE sns_qa_push_setting SET status = 2 WHERE id = %(campaign_id)s;

-- name: mark_sent_promotion
UPDATE sys_user_promotion SET status = 2 WHERE id = %(campaign_id)s;

-- name: mark_sent_activity
UPDATE operation_activity SET push_state = 2, push_count = %(recipients)s
WHERE id = %(campaign_id)s;

-- ---------------------------------------------------------------- instance lock

-- name: get_lock
SELECT GET_LOCK(%(lock_name)s, 0) AS acquired, CONNECTION_ID() AS connection_id;

-- name: lock_owned
SELECT IS_USED_LOCK(%(lock_name)s) = CONNECTION_ID() AS owned;

-- name: lock_holder
SELECT IS_USED_LOCK(%(lock_name)s) AS connection_id;

-- name: instance_of_lock
SELECT host, pid, connection_id, started_at FROM mh_instance WHERE lock_name = %(lock_name)s;

-- name: record_instance
REPLACE INTO mh_instance (lock_name, host, pid, connection_id, started_at)
VALUES (%(lock_name)s, %(host)s, %(pid)s, %(connection_id)s, NOW());

-- ---------------------------------------------------------------- job health
-- One statement per report of a job thread (mh_job_health): the row is created
-- at the first one. `started` / `ended` say whether a poll started or ended now;
-- a NULL error keeps the last one.
-- name: record_job_health
INSERT INTO mh_job_health (lock_name, host, pid, job, poll_interval, poll_started_at,
                           poll_ended_at, doing, last_error, last_error_at, updated_at)
VALUES (%(lock_name)s, %(host)s, %(pid)s, %(job)s, %(poll_interval)s,
        IF(%(started)s, NOW(), NULL), IF(%(ended)s, NOW(), NULL), %(doing)s,
        %(error)s, IF(%(error)s IS NULL, NULL, NOW()), NOW())
ON DUPLICATE KEY UPDATE
  poll_interval = VALUES(poll_interval),
  poll_started_at = IF(%(started)s, NOW(), poll_started_at),
  poll_ended_at = IF(%(ended)s, NOW(), poll_ended_at),
  doing = VALUES(doing),
  last_error_at = IF(%(error)s IS NULL, last_error_at, NOW()),
  last_error = COALESCE(%(error)s, last_error),
  updated_at = NOW();

-- name: job_health_of_instance
SELECT job, poll_interval, poll_started_at, poll_ended_at, doing, last_error, last_error_at
FROM mh_job_health
WHERE lock_name = %(lock_name)s AND host = %(host)s AND pid = %(pid)s
ORDER BY job;

-- The rows of instances that stopped a day ago or more (a pid is not reused as a key
-- for long: a restarted daemon writes rows of its own).
-- name: prune_job_health
DELETE FROM mh_job_health
WHERE lock_name = %(lock_name)s AND updated_at < NOW() - INTERVAL 1 DAY;

-- The audience freeze, the one long statement, bounded on the server: MariaDB
-- (10.1.8 and later) runs the part in the /*M! ... */ comment, and aborts a
-- statement of the session after max_statement_time seconds with error 1969.
-- MySQL reads only the user variable: there the client's read timeout bounds
-- the wait (util/db: Transaction.read_timeout_for), not the server's work.
-- name: limit_statement_time
SET @mh_statement_limit = %(seconds)s /*M!100108 , SESSION max_statement_time = %(seconds)s */;

-- name: unlimit_statement_time
SET @mh_statement_limit = NULL /*M!100108 , SESSION max_statement_time = DEFAULT */;
