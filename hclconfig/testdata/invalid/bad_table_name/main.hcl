destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "three_parts" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a.b.c" # ERROR: Invalid table # ERROR: the table name "a.b.c" has too many parts.
  behavior    = "append"
  key         = "id"
}

sync "empty_part" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a..b" # ERROR: Invalid table # ERROR: the table name "a..b" has an empty part. # ERROR: names are not case-folded, so write them as the catalog has them
  behavior    = "append"
  key         = "id"
}

sync "unclosed_quote" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "\"My Schema.users" # ERROR: has an unclosed quote.
  behavior    = "append"
  key         = "id"
}

sync "empty" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "" # ERROR: Invalid table
  behavior    = "append"
  key         = "id"
}

sync "trailing_dot" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "public." # ERROR: has an empty part.
  behavior    = "append"
  key         = "id"
}
