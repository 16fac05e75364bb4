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
