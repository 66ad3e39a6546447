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
  key         = [] # ERROR: Invalid key # ERROR: key must name at least one column.
}

sync "t" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users2"
  behavior    = "append"
  key         = "" # ERROR: key must not contain an empty name.
}
