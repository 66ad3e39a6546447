-- DuckDB SQL over every day's file: events per account and the last one.
SELECT
  account_id,
  count(*) AS events,
  count(*) FILTER (WHERE event = 'export') AS exports,
  max(occurred_at) AS last_seen_at
FROM read_parquet('exports/usage/*.parquet')
GROUP BY account_id
