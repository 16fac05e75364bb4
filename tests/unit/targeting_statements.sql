-- What mg_handling/targeting.py emits (tests/test_targeting_compose.py).

-- name: scan_matching_users
FROM account_basic_detail d
STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id
WHERE {scan_matching_profiles}
  AND u.status = 'active';

-- name: scan_matching_profiles
d.card_id <> ''
  AND (d.city_code IN %(region_widened)s
       OR CONVERT(d.card_id USING utf8) IN (
            SELECT c.card_id FROM card_info_jsonver c IGNORE INDEX (card_id)
            WHERE c.cityM_code IN %(region_codes)s OR c.provinceM_code IN %(region_codes)s))
  AND (d.user_id IN (
            SELECT m.account_id FROM account_basic_category_map m IGNORE INDEX (account_id)
            WHERE m.category_id IN %(industry_widened)s)
       OR CONVERT(d.card_id USING utf8) IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.ind_code IN %(industry_widened)s))
  AND CONVERT(d.card_id USING utf8) IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.func_code REGEXP %(func_pattern)s);

-- name: narrow_matching_users
SELECT u.user_id, u.email, u.mobile
FROM account_basic_detail d
JOIN account_basic u ON u.user_id = d.user_id
WHERE d.city_code IN %(region_widened)s
  {narrow_checks}
UNION ALL
SELECT u.user_id, u.email, u.mobile
FROM (SELECT DISTINCT CONVERT(c.card_id USING utf8mb4) AS card_id FROM card_info_jsonver c
      WHERE c.cityM_code IN %(region_codes)s OR c.provinceM_code IN %(region_codes)s) region_cards
STRAIGHT_JOIN account_basic_detail d ON d.card_id = region_cards.card_id
STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id
WHERE d.city_code NOT IN %(region_widened)s
  {narrow_checks};

-- name: narrow_checks
AND u.status = 'active'
  AND d.card_id <> ''
  AND COALESCE(
        (SELECT 1 FROM account_basic_category_map m
         WHERE m.account_id = u.user_id AND m.category_id IN %(industry_widened)s
         LIMIT 1),
        (SELECT 1 FROM company_info_jsonVer co
         WHERE co.card_id = CONVERT(d.card_id USING utf8) AND co.ind_code IN %(industry_widened)s
         LIMIT 1)) IS NOT NULL
  AND (SELECT 1 FROM company_info_jsonVer co
         WHERE co.card_id = CONVERT(d.card_id USING utf8) AND co.func_code REGEXP %(func_pattern)s
         LIMIT 1) IS NOT NULL;

-- name: card_holders
SELECT TRIM(h.mobile) AS recipient
FROM card_info_jsonver h
WHERE h.card_id <> '' AND TRIM(h.mobile) <> '' AND CHAR_LENGTH(TRIM(h.mobile)) <= 18
  AND h.card_id IN (
            SELECT c.card_id FROM card_info_jsonver c IGNORE INDEX (card_id)
            WHERE c.cityM_code IN %(region_codes)s OR c.provinceM_code IN %(region_codes)s)
  AND h.card_id IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.ind_code IN %(industry_widened)s)
  AND h.card_id IN (
            SELECT co.card_id FROM company_info_jsonVer co IGNORE INDEX (card_id)
            WHERE co.func_code REGEXP %(func_pattern)s);

-- name: breakdown_of_audience
STRAIGHT_JOIN account_basic_detail d ON d.user_id = a.recipient
STRAIGHT_JOIN account_basic u ON u.user_id = a.recipient
LEFT JOIN province_city_code d_city_code_parent ON d_city_code_parent.prefecture_code = d.city_code
LEFT JOIN card_info_jsonver c
       ON c.card_id = CONVERT(d.card_id USING utf8)
      AND (c.cityM_code IN %(region_codes)s OR c.provinceM_code IN %(region_codes)s)
LEFT JOIN company_info_jsonVer co
       ON co.card_id = CONVERT(d.card_id USING utf8)
      AND (co.ind_code IN %(industry_widened)s OR co.func_code REGEXP %(func_pattern)s)
LEFT JOIN industry_category co_ind_code_parent ON co_ind_code_parent.category_id = co.ind_code AND co_ind_code_parent.parent_id NOT IN ('', '0')
LEFT JOIN account_basic_category_map m
       ON m.account_id = a.recipient
      AND m.category_id IN %(industry_widened)s
LEFT JOIN industry_category m_category_id_parent ON m_category_id_parent.category_id = CONVERT(m.category_id USING utf8) AND m_category_id_parent.parent_id NOT IN ('', '0')
STRAIGHT_JOIN ({campaign_code_rows}) k
  ON k.dimension = 'all'
  OR (k.dimension = 'email' AND TRIM(u.email) <> '')
  OR (k.dimension = 'mobile' AND TRIM(u.mobile) <> '')
  OR (k.dimension = 'region'
      AND (k.code = d.city_code
           OR k.code = d_city_code_parent.province_code
           OR k.code = c.cityM_code
           OR k.code = c.provinceM_code))
  OR (k.dimension = 'industry'
      AND (k.code = m.category_id
           OR k.code = m_category_id_parent.parent_id
           OR k.code = co.ind_code
           OR k.code = co_ind_code_parent.parent_id))
  OR (k.dimension = 'func'
      AND (co.func_code LIKE CONCAT('%%', k.code, '%%')
           AND co.func_code REGEXP CONCAT('(^|,|，)[[:space:]]*(', k.code, ')[[:space:]]*(,|，|$)')))
GROUP BY k.dimension, k.code;

-- name: region_reach
SELECT (SELECT COUNT(*) FROM account_basic_detail d WHERE d.city_code IN %(region_widened)s)
     + (SELECT COUNT(*) FROM card_info_jsonver c WHERE c.cityM_code IN %(region_codes)s OR c.provinceM_code IN %(region_codes)s) AS reach,
       (SELECT table_rows FROM information_schema.TABLES
        WHERE table_schema = DATABASE() AND table_name = 'account_basic_detail') AS users,
       (SELECT SUM(data_length + index_length) FROM information_schema.TABLES
        WHERE table_schema = DATABASE() AND table_name IN %(tables)s) AS data_bytes,
       @@innodb_buffer_pool_size AS buffer_pool_bytes;

-- name: expand_region
SELECT prefecture_code AS code FROM province_city_code WHERE province_code IN %(codes)s;

-- name: expand_industry
SELECT category_id AS code FROM industry_category WHERE parent_id IN %(codes)s AND parent_id NOT IN ('', '0');

-- name: scan_breakdown
SELECT k.dimension, k.code, COUNT(DISTINCT a.recipient) AS accounts
FROM (SELECT DISTINCT x.recipient FROM (SELECT d.user_id AS recipient
FROM account_basic_detail d
WHERE {scan_matching_profiles}
  AND d.user_id IN (SELECT u.user_id FROM account_basic u IGNORE INDEX (user_id)
                    WHERE u.status = 'active')) x) a
{breakdown_of_audience};

-- name: scan_users
SELECT d.user_id AS recipient
FROM account_basic_detail d
WHERE {scan_matching_profiles}
  AND d.user_id IN (SELECT u.user_id FROM account_basic u IGNORE INDEX (user_id)
                    WHERE u.status = 'active');

-- name: scan_emails
SELECT DISTINCT TRIM(u.email) AS recipient
{scan_matching_users}
  AND TRIM(u.email) <> '';

-- name: scan_mobiles
SELECT DISTINCT TRIM(u.mobile) AS recipient
{scan_matching_users}
  AND TRIM(u.mobile) <> '';

-- name: scan_mobiles_and_cards
SELECT TRIM(u.mobile) AS recipient
{scan_matching_users}
  AND TRIM(u.mobile) <> ''
UNION
{card_holders};

-- name: narrow_breakdown
SELECT k.dimension, k.code, COUNT(DISTINCT a.recipient) AS accounts
FROM (SELECT DISTINCT x.recipient FROM (SELECT m.user_id AS recipient FROM ({narrow_matching_users}) m) x) a
{breakdown_of_audience};

-- name: narrow_users
SELECT m.user_id AS recipient FROM ({narrow_matching_users}) m;

-- name: narrow_emails
SELECT DISTINCT TRIM(m.email) AS recipient
FROM ({narrow_matching_users}) m
WHERE TRIM(m.email) <> '';

-- name: narrow_mobiles
SELECT DISTINCT TRIM(m.mobile) AS recipient
FROM ({narrow_matching_users}) m
WHERE TRIM(m.mobile) <> '';

-- name: narrow_mobiles_and_cards
SELECT TRIM(m.mobile) AS recipient
FROM ({narrow_matching_users}) m
WHERE TRIM(m.mobile) <> ''
UNION
{card_holders};
