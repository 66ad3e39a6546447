-- Every live account of the warehouse.
SELECT account_id, account_name, domain, plan, mrr
FROM analytics.accounts
WHERE NOT is_deleted
