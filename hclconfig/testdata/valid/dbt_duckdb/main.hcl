destination "postgres" "crm" {
  host     = "db"
  database = "crm"
  user     = "u"
}

source "duckdb" "files" {}

source "duckdb" "lake" {
  path        = "data/lake.duckdb"
  dbt_project = "../../dbt/analytics"
}

source "postgres" "wh" {
  host        = "db"
  database    = "analytics"
  user        = "u"
  dbt_project = "../../dbt/analytics"
}

sync "exports" {
  source      = source.duckdb.files
  query       = "SELECT * FROM read_parquet('exports/*.parquet')"
  destination = destination.postgres.crm
  table       = "exports"
  behavior    = "mirror"
  key         = "id"
}

sync "active_users" {
  source      = source.postgres.wh
  model       = "active_users"
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "update_or_create"
  key         = "id"
}

sync "orders" {
  source      = source.duckdb.lake
  model       = "orders"
  destination = destination.postgres.crm
  table       = "orders"
  behavior    = "mirror"
  key         = "id"
}
