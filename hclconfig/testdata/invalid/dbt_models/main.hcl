destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "postgres" "wh" {
  host        = "db"
  database    = "analytics"
  user        = "u"
  dbt_project = "../../dbt/analytics"
}

source "postgres" "no_dbt" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "duckdb" "uncompiled" {
  dbt_project = "../../dbt/never_compiled"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "typo" {
  source      = source.postgres.wh
  model       = "active_user" # ERROR: Unknown dbt model # ERROR: Did you mean "active_users"?
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = "id"
}

sync "both" {
  source      = source.postgres.wh
  query       = "select 1"
  model       = "accounts" # ERROR: Conflicting attributes # ERROR: Give either a query
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "append"
  key         = "id"
}

sync "without_project" {
  source      = source.postgres.no_dbt
  model       = "accounts" # ERROR: No dbt project # ERROR: has no dbt_project
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "append"
  key         = "id"
}

sync "not_compiled" {
  source      = source.duckdb.uncompiled
  model       = "accounts" # ERROR: dbt manifest not found # ERROR: Run `dbt compile` (or `dbt parse`)
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "append"
  key         = "id"
}

sync "ephemeral" {
  source      = source.postgres.wh
  model       = "stg_events" # ERROR: dbt model without a relation # ERROR: materialized as "ephemeral"
  destination = destination.postgres.crm
  table       = "e"
  behavior    = "append"
  key         = "id"
}

sync "csv_model" {
  source      = source.csv.seed
  model       = "accounts" # ERROR: Unsupported argument # ERROR: which has no dbt models
  destination = destination.postgres.crm
  table       = "f"
  behavior    = "append"
  key         = "id"
}

sync "duckdb_without_query" { # ERROR: Missing required argument # ERROR: or the name of a dbt model
  source      = source.duckdb.uncompiled
  destination = destination.postgres.crm
  table       = "g"
  behavior    = "append"
  key         = "id"
}
