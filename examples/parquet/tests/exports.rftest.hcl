# Tests of examples/parquet: run them with `rowform -chdir=examples/parquet test`
# (`make demo-parquet` and `make test-examples` write the Parquet files
# first, with generate.sql). A duckdb source reads its files as they are;
# the destination's test database gets the real schema. See docs/testing.md.

destination "postgres" "local" {
  sql = file("schema.sql")
}

run "load" {
  expect_plan "accounts" {
    insert   = 12
    findings = []
  }
  expect_plan "account_usage" {
    insert   = 12
    findings = []
  }

  expect_table "public.accounts" {
    count = 12
  }

  # DuckDB's DECIMAL, TIMESTAMP WITH TIME ZONE and list arrive as numeric,
  # timestamptz and jsonb.
  expect_table "public.accounts" {
    columns = ["id", "plan", "mrr", "updated_at", "tags"]
    rows = [
      { id = 1, plan = "pro", mrr = "49.50", updated_at = "2024-06-01 07:00:00+00", tags = "[\"beta\"]" },
      { id = 2, plan = "free", mrr = "99.00", updated_at = "2024-06-01 14:00:00+00", tags = "[]" },
      { id = 3, plan = "enterprise", mrr = "148.50", updated_at = "2024-06-01 21:00:00+00", tags = "[]" },
      { id = 4, plan = "pro", mrr = "198.00", updated_at = "2024-06-02 04:00:00+00", tags = "[\"beta\", \"sso\"]" },
      { id = 5, plan = "free", mrr = "247.50", updated_at = "2024-06-02 11:00:00+00", tags = "[\"beta\"]" },
      { id = 6, plan = "enterprise", mrr = "297.00", updated_at = "2024-06-02 18:00:00+00", tags = "[]" },
      { id = 7, plan = "pro", mrr = "346.50", updated_at = "2024-06-03 01:00:00+00", tags = "[]" },
      { id = 8, plan = "free", mrr = "396.00", updated_at = "2024-06-03 08:00:00+00", tags = "[\"beta\", \"sso\"]" },
      { id = 9, plan = "enterprise", mrr = "445.50", updated_at = "2024-06-03 15:00:00+00", tags = "[\"beta\"]" },
      { id = 10, plan = "pro", mrr = "495.00", updated_at = "2024-06-03 22:00:00+00", tags = "[]" },
      { id = 11, plan = "free", mrr = "544.50", updated_at = "2024-06-04 05:00:00+00", tags = "[]" },
      { id = 12, plan = "enterprise", mrr = "594.00", updated_at = "2024-06-04 12:00:00+00", tags = "[\"beta\", \"sso\"]" },
    ]
  }
}

# The same files again change nothing.
run "idempotent" {
  command = "plan"

  expect_plan "accounts" {
    unchanged = 12
    findings  = []
  }
  expect_plan "account_usage" {
    unchanged = 12
    findings  = []
  }
}
