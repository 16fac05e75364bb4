-- The statements of the operator commands (preview, status, retry, cancel), by name.
-- Same rules as queries.sql: values are %(name)s parameters, `{name}` includes.
-- None of them takes the instance lock; only retry and cancel write, and only
-- the campaign's own mh_campaign_run row, locked as every chunk locks it.

-- ---------------------------------------------------------------- clock

-- The server's clock in both forms: campaign times are Unix seconds, the
-- daemon's own are DATETIME in the server's time zone.
-- name: server_clock
SELECT NOW() AS now, UNIX_TIMESTAMP() AS unix_now;

-- ---------------------------------------------------------------- one campaign
-- A campaign row with the columns its job reads, due or not (db_now as in the
-- due queries, so engine.decide() and fingerprint() see the same row).

-- name: campaign_news
SELECT {news_columns}, UNIX_TIMESTAMP() AS mh_db_now
FROM sns_qa_push_setting s WHERE s.id = %(campaign_id)s;

-- name: campaign_promotion
SELECT {promotion_columns}, UNIX_TIMESTAMP() AS mh_db_now
FROM sys_user_promotion p WHERE p.id = %(campaign_id)s;

-- name: campaign_activity
SELECT {activity_columns}, UNIX_TIMESTAMP() AS mh_db_now
FROM operation_activity a WHERE a.id = %(campaign_id)s;

-- name: run_of_campaign
SELECT {run_row}
FROM mh_campaign_run WHERE job = %(job)s AND campaign_id = %(campaign_id)s;

-- ---------------------------------------------------------------- preview
-- preview counts and samples the audience SELECTs of mg_handling/targeting.py
-- themselves (wrapped in SELECT COUNT(*) FROM (...) a by mg_handling/preview.py),
-- never writing them; targeting.py also composes the per-code breakdown, which
-- joins the rows below. What it adds:

-- One row per code of a campaign, (dimension, code), from three comma-joined
-- lists of already validated codes (at most 256 per list), plus the rows
-- ('all', ''), ('email', ''), ('mobile', ''). Plain SQL of MySQL 5.7: no VALUES
-- rows, no sequence engine.
-- name: campaign_code_rows
SELECT DISTINCT x.dimension,
       SUBSTRING_INDEX(SUBSTRING_INDEX(x.codes, ',', n.n), ',', -1) AS code
FROM (SELECT 'region' AS dimension, %(region_list)s AS codes
      UNION ALL SELECT 'industry', %(industry_list)s
      UNION ALL SELECT 'func', %(func_list)s
      UNION ALL SELECT 'all', ''
      UNION ALL SELECT 'email', ''
      UNION ALL SELECT 'mobile', '') x
JOIN (SELECT h.n * 16 + l.n + 1 AS n
      FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7
            UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11
            UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14
            UNION ALL SELECT 15) h
      CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7
            UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11
            UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14
            UNION ALL SELECT 15) l) n
  ON n.n <= 1 + LENGTH(x.codes) - LENGTH(REPLACE(x.codes, ',', ''))

-- Who the sampled users are.
-- name: describe_users
SELECT d.user_id, d.real_name, d.city_code, TRIM(u.mobile) AS mobile, TRIM(u.email) AS email
FROM account_basic_detail d JOIN account_basic u ON u.user_id = d.user_id
WHERE d.user_id IN %(user_ids)s;

-- Which of a campaign's codes the code tables know, and as what.
-- name: known_region_codes
SELECT DISTINCT province_code AS code, 'province' AS kind
FROM province_city_code WHERE province_code IN %(codes)s
UNION
SELECT prefecture_code, 'city' FROM province_city_code WHERE prefecture_code IN %(codes)s;

-- name: known_industry_codes
SELECT DISTINCT category_id AS code,
       IF(parent_id IN ('', '0'), 'industry, level 1', 'industry, level 2') AS kind
FROM industry_category WHERE category_id IN %(codes)s;

-- ---------------------------------------------------------------- status

-- Every run that is not over, and the ones that changed in the window.
-- name: status_runs
SELECT {run_row},
       TIMESTAMPDIFF(SECOND, started_at, NOW()) AS running_seconds,
       TIMESTAMPDIFF(SECOND, started_at, finished_at) AS duration_seconds,
       TIMESTAMPDIFF(SECOND, updated_at, NOW()) AS idle_seconds,
       updated_at >= NOW() - INTERVAL %(hours)s HOUR AS recent
FROM mh_campaign_run
WHERE state IN %(open)s
   OR updated_at >= NOW() - INTERVAL %(hours)s HOUR
ORDER BY updated_at DESC, id DESC;

-- ---------------------------------------------------------------- retry, cancel
-- The run row, locked as the daemon's chunk transaction locks it: a cancel
-- waits for the chunk in flight and the next chunk sees the new state.

-- name: lock_run_for_operator
SELECT {run_row}
FROM mh_campaign_run WHERE job = %(job)s AND campaign_id = %(campaign_id)s FOR UPDATE;

-- name: cancel_run
UPDATE mh_campaign_run
SET state = %(cancelled)s, last_error = %(reason)s, finished_at = NOW(), updated_at = NOW()
WHERE id = %(run_id)s;

-- Keeps written and resume_after: a run that wrote chunks goes on from there.
-- name: request_retry
UPDATE mh_campaign_run SET state = %(retry)s, updated_at = NOW() WHERE id = %(run_id)s;

-- ---------------------------------------------------------------- operator commands (issue 13)

-- Who asked for a cancel or a retry (OS user@host), and when.
-- name: record_request
UPDATE mh_campaign_run
SET requested = %(request)s, requested_by = %(requested_by)s, requested_at = NOW()
WHERE id = %(run_id)s;

-- The retry of a campaign marked sent with 0 recipients (nothing was written, so
-- nothing can be doubled) makes its legacy row due again: the opposite of
-- mark_sent_<job>, with the values the admin backend gives a new campaign
-- (news status 1, promotion status 1 "to send", activity push_state 1).
-- name: mark_unsent_news
UPDATE sns_qa_push_setting SET status = 1 WHERE id = %(campaign_id)s AND status = 2;

-- name: mark_unsent_promotion
UPDATE sys_user_promotion SET status = 1 WHERE id = %(campaign_id)s AND status = 2;

-- name: mark_unsent_activity
UPDATE operation_activity SET push_state = 1, push_count = 0
WHERE id = %(campaign_id)s AND push_state = 2;

-- A running run taken up again by a daemon that started since (the engine):
-- `status` computes its rate from here, not over the time the daemon was down.
-- name: mark_resumed
UPDATE mh_campaign_run SET resumed_at = NOW(), written_at_resume = written
WHERE id = %(run_id)s AND state = %(running)s;

-- The schema upgrade at start (Store.upgrade_schema): mh_campaign_run's columns,
-- then each column added since the first version that is missing, one
-- statement each (MySQL 5.7 has no ADD COLUMN IF NOT EXISTS).
-- name: run_table_columns
SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'mh_campaign_run';

-- name: add_run_column_requested
ALTER TABLE mh_campaign_run ADD COLUMN requested varchar(16) NOT NULL DEFAULT '';

-- name: add_run_column_requested_by
ALTER TABLE mh_campaign_run ADD COLUMN requested_by varchar(255) NOT NULL DEFAULT '';

-- name: add_run_column_requested_at
ALTER TABLE mh_campaign_run ADD COLUMN requested_at datetime NULL;

-- name: add_run_column_resumed_at
ALTER TABLE mh_campaign_run ADD COLUMN resumed_at datetime NULL;

-- name: add_run_column_written_at_resume
ALTER TABLE mh_campaign_run ADD COLUMN written_at_resume int NOT NULL DEFAULT 0;

-- check-config (mg_handling/checkconfig.py): information_schema only, nothing
-- written. The server and the account as the server sees it (CURRENT_USER() is
-- the account the grants name, which may differ from the user given).
-- name: check_server
SELECT VERSION() AS version, CURRENT_USER() AS account;

-- name: check_columns
SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, DATA_TYPE AS data_type
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN %(tables)s;

-- The account's privileges that reach this database: on the server, on the
-- database (a grant on a pattern such as `db\_%` counts), on a table, on a column.
-- name: check_privileges
SELECT '' AS table_name, '' AS column_name, PRIVILEGE_TYPE AS privilege
FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %(grantee)s
UNION ALL
SELECT '', '', PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES
WHERE GRANTEE = %(grantee)s AND DATABASE() LIKE TABLE_SCHEMA
UNION ALL
SELECT TABLE_NAME, '', PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES
WHERE GRANTEE = %(grantee)s AND TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES
WHERE GRANTEE = %(grantee)s AND TABLE_SCHEMA = DATABASE();

-- The first column of every index of the tables (the daemon checks the
-- recommended indexes by it: an equivalent index of the platform's counts too).
-- name: check_index_heads
SELECT DISTINCT TABLE_NAME AS table_name, COLUMN_NAME AS column_name
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND SEQ_IN_INDEX = 1 AND TABLE_NAME IN %(tables)s;
