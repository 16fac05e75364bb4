-- Indexes that let the daemon find a small region's users without reading every
-- account (the "narrow" audience plan, see README "Performance"). Optional: the
-- daemon works without them, using the scan plan for every campaign.
--
-- They add columns to no table and change no data; each is an online ALTER on
-- MariaDB 10.3+ / MySQL 5.7+ (LOCK=NONE). Apply once per database, e.g.
--   mysql oradt_cloud_prd < deploy/recommended_indexes.sql
-- The daemon checks for them by column (the first column of any index), so an
-- equivalent index the platform already has counts too.
ALTER TABLE account_basic_detail ADD INDEX mh_city_code (city_code), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE card_info_jsonver ADD INDEX mh_cityM_code (cityM_code, card_id), ADD INDEX mh_provinceM_code (provinceM_code, card_id), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE account_basic_category_map ADD INDEX mh_category_id (category_id, account_id), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE company_info_jsonVer ADD INDEX mh_ind_code (ind_code, card_id), ALGORITHM=INPLACE, LOCK=NONE;
-- The polls: each job's one query per poll finds its due campaigns by index.
ALTER TABLE sns_qa_push_setting ADD INDEX mh_due (status, push_time), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE sys_user_promotion ADD INDEX mh_due (status, push_time), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE operation_activity ADD INDEX mh_due (isnotify, state, onlinetime), ALGORITHM=INPLACE, LOCK=NONE;
