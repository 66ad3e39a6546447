destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
}

sync "csv_with_query" {
  source      = source.csv.seed
  query       = "select 1" # ERROR: Unsupported argument # ERROR: The source csv.seed is a CSV file, which has no query
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = "id"
}

sync "postgres_without_query" { # ERROR: Missing required argument # ERROR: The source postgres.wh is a postgres source, so this sync needs a query attribute
  source      = source.postgres.wh
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "append"
  key         = "id"
}

sync "empty_query" {
  source      = source.postgres.wh
  query       = "  \n " # ERROR: Empty query # ERROR: query must contain SQL
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "append"
  key         = "id"
}

sync "query_wrong_type" {
  source      = source.postgres.wh
  query       = ["select 1"] # ERROR: Incorrect attribute value type
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "append"
  key         = "id"
}
