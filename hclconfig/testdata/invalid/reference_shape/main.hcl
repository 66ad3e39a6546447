destination "postgres" "x" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "postgres" "x" {
  host     = "db"
  database = "d"
  user     = "u"
}

sync "quoted" {
  source      = "postgres.x" # ERROR: Invalid reference # ERROR: source must be a reference of the form source.TYPE.NAME, without quotes.
  query       = "select 1 as id"
  destination = destination.postgres.x
  table       = "t1"
  behavior    = "append"
  key         = "id"
}

sync "wrong_root" {
  source      = destination.postgres.x # ERROR: source must be a reference of the form source.TYPE.NAME; destination.postgres.x is not.
  destination = source.postgres.x # ERROR: destination must be a reference of the form destination.TYPE.NAME; source.postgres.x is not.
  table       = "t2"
  behavior    = "append"
  key         = "id"
}

sync "too_short" {
  source      = source.x # ERROR: source must be a reference of the form source.TYPE.NAME; source.x is not.
  destination = destination.postgres.x.y # ERROR: Invalid reference
  table       = "t3"
  behavior    = "append"
  key         = "id"
  depends_on  = ["quoted"] # ERROR: depends_on must list references of the form sync.NAME, without quotes.
}

sync "refs_elsewhere" {
  source      = source.postgres.x
  query       = "select 1 as id"
  destination = destination.postgres.x
  table       = source.postgres.x # ERROR: A reference to a source cannot be used in the table attribute.
  behavior    = "append"
  key         = "id"
  depends_on  = sync.quoted # ERROR: Invalid depends_on
}
