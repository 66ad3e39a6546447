destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "mirorr" # ERROR: Invalid behavior # ERROR: Did you mean "mirror"?
  key         = "id"
}

sync "t" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users2"
  behavior    = "upsert" # ERROR: behavior must be one of "update_or_create", "update_only", "append", "mirror"
  key         = "id"
}
