#!/usr/bin/env bash
# examples/parquet end to end, as `make demo-parquet` runs it inside a
# throwaway PostgreSQL (internal/tools/withpg exports PGHOST, PGPORT,
# PGUSER, PGPASSWORD and PGDATABASE): write the Parquet files with DuckDB,
# plan, apply, plan again; then a new day's export, and its plan.
set -euo pipefail
rowform=${ROWFORM:-rowform}
genparquet=${GENPARQUET:-genparquet}
export ROWFORM_VAR_pg_host="$PGHOST" ROWFORM_VAR_pg_port="$PGPORT" \
  ROWFORM_VAR_pg_database="$PGDATABASE" ROWFORM_VAR_pg_user="$PGUSER"
cd "$(dirname "$0")"

step() { printf '\n$ %s\n' "$*"; }

step genparquet generate.sql
rm -rf exports && mkdir -p exports/usage
"$genparquet" generate.sql
ls exports exports/usage

step rowform plan -show-rows=2
"$rowform" plan -show-rows=2

step rowform apply -auto-approve
"$rowform" apply -auto-approve

step rowform plan -detailed-exitcode
"$rowform" plan -detailed-exitcode

step "a new day's usage export"
cat > /tmp/rowform-parquet-day3.sql <<'SQL'
COPY (SELECT 1 + (i % 3) AS account_id, 'export' AS event, TIMESTAMPTZ '2024-07-03 09:00:00+00' + i * INTERVAL 1 MINUTE AS occurred_at
      FROM range(0, 6) r(i)) TO 'exports/usage/2024-07-03.parquet' (FORMAT parquet);
SQL
"$genparquet" /tmp/rowform-parquet-day3.sql
rm -f /tmp/rowform-parquet-day3.sql

step rowform plan -show-rows=3
"$rowform" plan -show-rows=3
