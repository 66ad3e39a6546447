destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
}

sync "s" {
  source      = source.postgres.wh
  query       = file("sql/missing.sql") # ERROR: Invalid function argument # ERROR: no file exists at
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = "id"
}

sync "t" {
  source      = source.postgres.wh
  query       = file("sql") # ERROR: Invalid function argument
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "append"
  key         = "id"
}
