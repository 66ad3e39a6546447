#!/usr/bin/env bash
# The quickstart end to end, as `make demo` runs it inside a throwaway
# PostgreSQL (internal/tools/withpg exports PGHOST, PGPORT, PGUSER,
# PGPASSWORD and PGDATABASE): plan, apply, then plan again.
set -euo pipefail
rowform=${ROWFORM:-rowform}
export ROWFORM_VAR_pg_host="$PGHOST" ROWFORM_VAR_pg_port="$PGPORT" \
  ROWFORM_VAR_pg_database="$PGDATABASE" ROWFORM_VAR_pg_user="$PGUSER"
cd "$(dirname "$0")"

step() { printf '\n$ %s\n' "$*"; }

step rowform plan -show-rows=3
"$rowform" plan -show-rows=3

step rowform apply -auto-approve
"$rowform" apply -auto-approve

step rowform plan -detailed-exitcode
"$rowform" plan -detailed-exitcode
