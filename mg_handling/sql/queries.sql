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

-- ---------------------------------------------------------------- audiences
-- Who receives a campaign is stated once, in mg_handling/targeting.py, which
-- composes every matching statement (each plan's audience SELECTs and fills,
-- the card holders, preview's breakdown) from that one description.

-- Which of the columns the narrow audience plan starts from lead an index.
-- name: indexed_columns
SELECT DISTINCT table_name, column_name FROM information_schema.STATISTICS
WHERE table_schema = DATABASE() AND seq_in_index = 1 AND table_name IN %(tables)s;

-- name: clear_audience
DELETE FROM mh_audience WHERE run_id = %(run_id)s;

-- The id range of a frozen audience (two reads of the run_id index). Chunks
-- are id ranges inside it, of batch_size ids times the id step below: an id is
-- unique, so a chunk never holds more rows than batch_size, and the range needs no
-- query.
-- name: audience_bounds
SELECT COALESCE(MIN(id) - 1, 0) AS first_after, COALESCE(MAX(id), 0) AS last_audience_id
FROM mh_audience WHERE run_id = %(run_id)s;

-- How far apart consecutive auto-increment ids are: 1 on a plain server, the
-- cluster's size on Galera (wsrep_auto_increment_control), where a range of
-- batch_size ids would hold a third of batch_size recipients on 3 nodes.
-- name: id_step
SELECT @@auto_increment_increment AS id_step;

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
finished_at, updated_at, requested, requested_by, requested_at, resumed_at,
written_at_resume

-- name: lock_run_of_campaign
SELECT {run_row}
FROM mh_campaign_run
WHERE job = %(job)s AND campaign_id = %(campaign_id)s FOR UPDATE;

-- name: lock_run
SELECT {run_row}
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
    started_at = NOW(), resumed_at = NOW(), written_at_resume = 0,
    finished_at = NULL, updated_at = NOW()
WHERE id = %(run_id)s;

-- A run that failed after writing some chunks goes on where it stopped, with
-- the corrected message, so nobody who already has a row gets a second one.
-- resumed_at and written_at_resume: `status` measures the rate since then, not
-- over the time the run was stopped.
-- name: resume_run
UPDATE mh_campaign_run
SET state = %(running)s, fingerprint = %(fingerprint)s, target = %(target)s,
    message = %(message)s, attempts = attempts + 1, last_error = '',
    resumed_at = NOW(), written_at_resume = written,
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

-- ---------------------------------------------------------------- instance lease
-- The lease row of a database (mg_handling/lock.py). Every statement that takes
-- or keeps it is a write: Galera certifies it against any other writer of the row.
-- Durations travel in microseconds (INTERVAL n SECOND would round a fraction).

-- name: ensure_lease
INSERT IGNORE INTO mh_lease (lock_name, expires_at) VALUES (%(lock_name)s, NOW(6));

-- Taken when it is free: expired, or released by its holder.
-- name: take_lease
UPDATE mh_lease
SET epoch = epoch + 1, holder = %(holder)s, host = %(host)s, pid = %(pid)s,
    acquired_at = NOW(6), expires_at = NOW(6) + INTERVAL %(lease_us)s MICROSECOND
WHERE lock_name = %(lock_name)s AND (expires_at <= NOW(6) OR holder = '');

-- Kept: only by its holder at its epoch, and only while it has more than
-- margin_us left, so that a holder stops writing before it could have lost it.
-- name: renew_lease
UPDATE mh_lease SET expires_at = NOW(6) + INTERVAL %(lease_us)s MICROSECOND
WHERE lock_name = %(lock_name)s AND epoch = %(epoch)s AND holder = %(holder)s
  AND expires_at > NOW(6) + INTERVAL %(margin_us)s MICROSECOND;

-- Taken from a holder that no longer runs (its process is gone from this host):
-- only at the epoch it was seen with, so a concurrent takeover wins or loses whole.
-- name: take_lease_of_dead_holder
UPDATE mh_lease
SET epoch = epoch + 1, holder = %(holder)s, host = %(host)s, pid = %(pid)s,
    acquired_at = NOW(6), expires_at = NOW(6) + INTERVAL %(lease_us)s MICROSECOND
WHERE lock_name = %(lock_name)s AND epoch = %(dead_epoch)s AND holder = %(dead_holder)s;

-- name: release_lease
UPDATE mh_lease SET holder = '', expires_at = NOW(6)
WHERE lock_name = %(lock_name)s AND epoch = %(epoch)s AND holder = %(holder)s;

-- name: lease
SELECT epoch, holder, host, pid, acquired_at, expires_at,
       expires_at > NOW(6) AND holder <> '' AS live
FROM mh_lease WHERE lock_name = %(lock_name)s;

-- name: record_standby
INSERT INTO mh_standby (lock_name, holder, host, pid, since, seen_at)
VALUES (%(lock_name)s, %(holder)s, %(host)s, %(pid)s, NOW(), NOW())
ON DUPLICATE KEY UPDATE seen_at = NOW();

-- name: forget_standby
DELETE FROM mh_standby WHERE lock_name = %(lock_name)s AND holder = %(holder)s;

-- The instances that said they stand by within the last `seconds`.
-- name: standby_instances
SELECT host, pid, since, seen_at FROM mh_standby
WHERE lock_name = %(lock_name)s AND seen_at >= NOW() - INTERVAL %(seconds)s SECOND
ORDER BY since;

-- ---------------------------------------------------------------- Galera write sets
-- A freeze writes a whole audience in one transaction: on a Galera node the
-- cluster's write-set limits must allow it (rows; bytes). No rows on MySQL.
-- name: write_set_limits
SHOW GLOBAL VARIABLES
WHERE Variable_name IN ('wsrep_on', 'wsrep_max_ws_rows', 'wsrep_max_ws_size');

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
