-- Subscriptions of live accounts; drafts never reach the CRM.
SELECT s.subscription_id, s.account_id, s.product, s.status, s.seats, s.renews_on
FROM analytics.subscriptions s
JOIN analytics.accounts a USING (account_id)
WHERE s.status <> 'draft' AND NOT a.is_deleted
