# rowform quickstart: load data/users.csv into public.users of a local
# PostgreSQL server. The connection comes from the usual libpq environment
# variables; see README.md.

variable "pg_port" {
  type        = number
  default     = 5432
  description = "Port of the local server; set ROWFORM_VAR_pg_port to override."
}

destination "postgres" "local" {
  host     = env("PGHOST")
  port     = var.pg_port
  database = env("PGDATABASE")
  user     = env("PGUSER")
  password = env("PGPASSWORD")
}

source "csv" "users" {
  path   = "data/users.csv" # relative to this directory
  header = true             # the first row names the columns
}

sync "users" {
  source      = source.csv.users
  destination = destination.postgres.local
  table       = "public.users"
  behavior    = "update_or_create"
  key         = "id"

  # destination column = source column
  mapping = {
    id           = "id"
    email        = "email"
    name         = "name"
    plan         = "plan"
    signed_up_at = "signed_up_at"
  }
  sensitive_columns = ["email"]
}
