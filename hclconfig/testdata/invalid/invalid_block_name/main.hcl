destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

destination "postgres" "crm db" { # ERROR: Invalid name # ERROR: The name "crm db" is not valid
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "9lives" { # ERROR: The name "9lives" is not valid
  path = "seed.csv"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "" { # ERROR: The name "" is not valid
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = "id"
}

sync "users.all" { # ERROR: The name "users.all" is not valid
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "append"
  key         = "id"
}
