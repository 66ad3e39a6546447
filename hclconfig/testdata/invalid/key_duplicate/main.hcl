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
  behavior    = "append"
  key         = ["id", "tenant", "id"] # ERROR: Invalid key # ERROR: key names "id" twice.
}
