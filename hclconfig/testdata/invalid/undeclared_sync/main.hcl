destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "accounts" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "accounts"
  behavior    = "append"
  key         = "id"
}

sync "users" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "append"
  key         = "id"
  depends_on = [
    sync.acounts, # ERROR: Reference to undeclared sync # ERROR: Did you mean "accounts"?
    sync.orders, # ERROR: There is no sync "orders" in the configuration.
  ]
}
