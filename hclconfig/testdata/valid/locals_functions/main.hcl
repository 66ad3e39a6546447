variable "env_name" {
  default = "  Staging  "
}

variable "shards" {
  type    = list(string)
  default = ["a", "b"]
}

locals {
  env      = lower(trimspace(var.env_name))
  host     = format("%s-db.%s", local.env, "example.com")
  database = upper(replace(local.env, "stag", "STG"))
  user     = join("_", ["rowform", local.env])
  tables   = split(",", "users,orders")
  schema   = coalesce(null, local.env)
  shard_id = join("", var.shards)
}

destination "postgres" "main" {
  host     = local.host
  database = local.database
  user     = local.user
  password = env("WAREHOUSE_PASSWORD")
  sslmode  = coalesce(null, "prefer")
}

source "csv" "users" {
  path = format("data/%s.csv", local.tables[0])
}

sync "users" {
  source      = source.csv.users
  destination = destination.postgres.main
  table       = "${local.schema}.${local.tables[0]}_${local.shard_id}"
  behavior    = "append"
  key         = split(",", "tenant,id")
  mapping = {
    (local.tables[1]) = upper("order_ref")
    id                = "id"
    tenant            = "tenant"
  }
}
