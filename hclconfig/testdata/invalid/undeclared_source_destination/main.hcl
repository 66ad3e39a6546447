destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "postgres" "warehouse" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "s" {
  source      = source.postgres.warehous # ERROR: Reference to undeclared source # ERROR: There is no source postgres.warehous in the configuration. Did you mean "postgres.warehouse"?
  query       = "select 1 as id"
  destination = destination.postgres.cmr # ERROR: Reference to undeclared destination # ERROR: Did you mean "postgres.crm"? # ERROR: Declared: postgres.crm.
  table       = "users"
  behavior    = "append"
  key         = "id"
}

sync "t" {
  source      = source.csv.elsewhere # ERROR: There is no source csv.elsewhere # ERROR: Declared: csv.seed, postgres.warehouse.
  destination = destination.postgres.crm
  table       = "users2"
  behavior    = "append"
  key         = "id"
}
