# A mapping that fails to decode is reported once; the key column is not
# then also reported as "not mapped" (the mapping is broken, not the key).
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "empty_mapping" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "append"
  key         = "id"
  mapping     = {} # ERROR: Empty mapping # ERROR: mapping must map at least one column
}

sync "mapping_not_object" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "e"
  behavior    = "append"
  key         = "id"
  mapping     = ["id"] # ERROR: Incorrect attribute value type
}
