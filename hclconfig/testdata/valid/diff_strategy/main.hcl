# diff_strategy: omitted (auto), and each value.
destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
}

source "postgres" "warehouse" {
  host     = "wh.internal"
  database = "wh"
  user     = "rowform"
}

sync "omitted" {
  source      = source.postgres.warehouse
  query       = "SELECT id FROM a"
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "mirror"
  key         = "id"
}

sync "auto" {
  source        = source.postgres.warehouse
  query         = "SELECT id FROM b"
  destination   = destination.postgres.crm
  table         = "b"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = "auto"
}

sync "server_hash" {
  source        = source.postgres.warehouse
  query         = "SELECT id FROM c"
  destination   = destination.postgres.crm
  table         = "c"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = "server_hash"
}

sync "full_rows" {
  source        = source.postgres.warehouse
  query         = "SELECT id FROM d"
  destination   = destination.postgres.crm
  table         = "d"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = "full_rows"
}
