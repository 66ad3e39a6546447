destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "a" { # ERROR: Cycle in depends_on # ERROR: sync.a -> sync.b -> sync.c -> sync.a
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.b]
}

sync "b" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.c]
}

sync "c" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.a]
}

sync "d" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.a, sync.d] # ERROR: Self-referencing depends_on # ERROR: The sync "d" cannot depend on itself.
}

sync "e" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "e"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.d, sync.d] # ERROR: Duplicate depends_on entry # ERROR: sync.d is already listed in this depends_on
}
