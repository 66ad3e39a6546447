-- Product events of the last 30 days; older ones are already in the CRM.
SELECT event_id, account_id, kind, occurred_at
FROM analytics.events
WHERE occurred_at > now() - interval '30 days'
