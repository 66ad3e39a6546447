-- Writes the Parquet files this example syncs, as a warehouse export job
-- would: exports/accounts.parquet, and a day's usage events per file under
-- exports/usage/. `make demo-parquet` runs it with DuckDB
-- (internal/tools/genparquet), in this directory.
SET TimeZone = 'UTC';

COPY (
  SELECT
    i AS account_id,
    'Account ' || i AS name,
    'billing' || i || '@example.com' AS billing_email,
    CASE i % 3 WHEN 0 THEN 'enterprise' WHEN 1 THEN 'pro' ELSE 'free' END AS plan,
    (i * 49.5)::DECIMAL(10,2) AS mrr,
    TIMESTAMPTZ '2024-06-01 00:00:00+00' + i * INTERVAL 7 HOUR AS updated_at,
    CASE WHEN i % 4 = 0 THEN ['beta', 'sso'] WHEN i % 4 = 1 THEN ['beta'] ELSE [] END AS tags
  FROM range(1, 13) r(i)
) TO 'exports/accounts.parquet' (FORMAT parquet);

COPY (
  SELECT 1 + (i % 12) AS account_id, 'page_view' AS event, TIMESTAMPTZ '2024-07-01 00:00:00+00' + i * INTERVAL 13 MINUTE AS occurred_at
  FROM range(0, 200) r(i)
) TO 'exports/usage/2024-07-01.parquet' (FORMAT parquet);

COPY (
  SELECT 1 + (i % 9) AS account_id, CASE WHEN i % 5 = 0 THEN 'export' ELSE 'page_view' END AS event,
    TIMESTAMPTZ '2024-07-02 00:00:00+00' + i * INTERVAL 11 MINUTE AS occurred_at
  FROM range(0, 150) r(i)
) TO 'exports/usage/2024-07-02.parquet' (FORMAT parquet);
