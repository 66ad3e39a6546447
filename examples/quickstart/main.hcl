# rowform quickstart: load data/users.csv into public.users of a local
# PostgreSQL server. Connection settings are variables (set them with
# ROWFORM_VAR_<name> or -var); the password comes from PGPASSWORD. See
# README.md.

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
  password = env("PGPASSWORD") # env() values are sensitive: never printed
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
