sync "third" {
  source      = source.csv.a
  destination = destination.postgres.crm
  table       = "t3"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.second, sync.first]
}

sync "first" {
  source      = source.csv.a
  destination = destination.postgres.crm
  table       = "t1"
  behavior    = "append"
  key         = "id"
}

sync "second" {
  source      = source.csv.b
  destination = destination.postgres.crm
  table       = "t2"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.first]
}
