-- The least privileges of the daemon's database account on the platform's database.
--
-- Three placeholders to replace: <database> (the [database_...] section's `database`),
-- <user> and <host> (the account the daemon connects as, and the host it connects
-- from, as the server sees it). The account is created first, with its password:
--   CREATE USER '<user>'@'<host>' IDENTIFIED BY '...';
-- then, as an administrator:
--   sed -e 's/<database>/business/g' -e 's/<user>/message_handling/g' \
--       -e 's/<host>/10.0.0.5/g' deploy/grants.sql | mysql
-- A placeholder left in place fails the first GRANT: there is no such table.
--
-- Nothing here is granted on the whole database, and no privilege on the server
-- (no PROCESS, SUPER or FILE): session variables, SHOW GLOBAL VARIABLES / STATUS
-- (whether a node is a synced Galera node) and information_schema's rows about tables the account can read
-- (the plan choice of queries.sql: region_reach, indexed_columns) need none.
-- tests/test_grants.py runs the daemon and the operator commands as an account
-- holding exactly these grants. Which statement needs which grant is said with
-- each line; the named statements are in mg_handling/sql/*.sql.

-- ---------------------------------------------------------------- the campaigns
-- Read: due_news / due_promotion / due_activity find the due campaigns at every
-- poll; campaign_* read one for preview, retry and cancel. Write: mark_sent_*
-- marks a campaign sent as the legacy sender did, and touches these columns only
-- (the WHERE id = ... reads id, which SELECT covers).
GRANT SELECT, UPDATE (status) ON `<database>`.sns_qa_push_setting TO '<user>'@'<host>';
GRANT SELECT, UPDATE (status) ON `<database>`.sys_user_promotion TO '<user>'@'<host>';
-- mark_sent_activity also records the number of recipients in push_count.
GRANT SELECT, UPDATE (push_state, push_count) ON `<database>`.operation_activity TO '<user>'@'<host>';

-- ---------------------------------------------------------------- targeting (read only)
-- The code tables: a province's cities (cities_in_provinces), a level-1 industry's
-- level-2 ones (industries_under); preview's known_*_codes and breakdown.
GRANT SELECT ON `<database>`.province_city_code TO '<user>'@'<host>';
GRANT SELECT ON `<database>`.industry_category TO '<user>'@'<host>';
-- The audiences (matching_profiles, matched_users_narrow, matching_card_mobiles,
-- audience_*): the accounts and their status, email and mobile...
GRANT SELECT ON `<database>`.account_basic TO '<user>'@'<host>';
-- ...their profile (city, default card)...
GRANT SELECT ON `<database>`.account_basic_detail TO '<user>'@'<host>';
-- ...the industries chosen at first use...
GRANT SELECT ON `<database>`.account_basic_category_map TO '<user>'@'<host>';
-- ...the business cards (city, province; their mobiles for SMS campaigns)...
GRANT SELECT ON `<database>`.card_info_jsonver TO '<user>'@'<host>';
-- ...and the cards' companies (industry, function).
GRANT SELECT ON `<database>`.company_info_jsonVer TO '<user>'@'<host>';

-- ---------------------------------------------------------------- the messages (insert only)
-- write_message_queue (news, activities, in-app promotions) and
-- write_message_promotion (email and SMS promotions): INSERT ... SELECT from
-- mh_audience, which needs no SELECT on the target. Table-wide rather than a
-- column list: the daemon writes whole messages, so a column list would guard
-- nothing, and a column the platform adds later keeps its default.
GRANT INSERT ON `<database>`.message_queue TO '<user>'@'<host>';
GRANT INSERT ON `<database>`.message_promotion TO '<user>'@'<host>';

-- ---------------------------------------------------------------- the daemon's own tables
-- The daemon owns these: it creates them (mg_handling/sql/daemon_schema.sql, at
-- every start, and retry and cancel before they touch a run), and CREATE TABLE IF
-- NOT EXISTS needs CREATE even when the table exists. Each gets the same set, all
-- but DROP: ALTER and INDEX for the upgrades of that schema the daemon applies at
-- start (none so far), and the data privileges its statements use today:
--   mh_campaign_run  SELECT (the due queries, lock_run* FOR UPDATE, status),
--                    INSERT (ensure_run), UPDATE (start/resume/advance/finish_run,
--                    record_outcome, cancel_run, request_retry)
--   mh_audience      INSERT (fill_audience_*), SELECT (audience_bounds, the write_*
--                    chunks), DELETE (clear_audience, prune_audience)
--   mh_lease         INSERT (ensure_lease), UPDATE (take/renew/release_lease, the
--                    fence of every claim and chunk), SELECT (lease, status)
--   mh_standby       INSERT ... ON DUPLICATE KEY UPDATE (record_standby), DELETE
--                    (forget_standby), SELECT (status)
--   mh_job_health    record_job_health (INSERT ... ON DUPLICATE KEY UPDATE),
--                    prune_job_health (DELETE), job_health_of_instance (SELECT)
-- (UPDATE of mh_audience, DELETE of mh_campaign_run and mh_lease: unused today,
-- granted so that the daemon's own bookkeeping never needs a new grant.)
-- A grant on a table that does not exist yet is accepted because it includes
-- CREATE. Every table of daemon_schema.sql needs its line here (tests/test_grants.py
-- checks it).
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `<database>`.mh_campaign_run TO '<user>'@'<host>';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `<database>`.mh_audience TO '<user>'@'<host>';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `<database>`.mh_lease TO '<user>'@'<host>';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `<database>`.mh_standby TO '<user>'@'<host>';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `<database>`.mh_job_health TO '<user>'@'<host>';
