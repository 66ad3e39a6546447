# rowform from Parquet files: a DuckDB query over the files a warehouse
# export wrote (generate.sql makes them), synced into PostgreSQL. The
# source needs no server: DuckDB runs inside rowform and only reads.
# Connection settings are variables (ROWFORM_VAR_<name> or -var); the
# password comes from PGPASSWORD. See README.md.

variable "pg_host" {
  type        = string
  default     = "127.0.0.1"
  description = "Host of the PostgreSQL server."
}

variable "pg_port" {
  type        = number
  default     = 5432
  description = "Port of the PostgreSQL server."
}

variable "pg_database" {
  type    = string
  default = "postgres"
}

variable "pg_user" {
  type    = string
  default = "postgres"
}

destination "postgres" "local" {
  host     = var.pg_host
  port     = var.pg_port
  database = var.pg_database
  user     = var.pg_user
  password = env("PGPASSWORD")
}

# No path: an in-memory DuckDB database whose queries read files. Paths in
# the SQL are relative to this directory.
source "duckdb" "exports" {}

sync "accounts" {
  source      = source.duckdb.exports
  query       = "SELECT * FROM read_parquet('exports/accounts.parquet')"
  destination = destination.postgres.local
  table       = "public.accounts"
  behavior    = "mirror"
  key         = "id"

  mapping = {
    id            = "account_id"
    name          = "name"
    billing_email = "billing_email"
    plan          = "plan"
    mrr           = "mrr"
    updated_at    = "updated_at"
    tags          = "tags" # a DuckDB list arrives as JSON
  }
  sensitive_columns = ["billing_email"]

  guard {
    max_delete_percent = 20
  }
}

sync "account_usage" {
  source      = source.duckdb.exports
  query       = file("sql/account_usage.sql")
  destination = destination.postgres.local
  table       = "public.account_usage"
  behavior    = "update_or_create"
  key         = "account_id"
  depends_on  = [sync.accounts] # its rows reference accounts
}
