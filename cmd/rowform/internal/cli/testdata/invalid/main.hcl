# Three mistakes, each marked with the summary it must produce.
destination "postgres" "local" {
  hots            = "127.0.0.1" # ERROR: Unsupported argument
  host            = "127.0.0.1"
  database        = "app"
  user            = "rowform"
  max_connections = 9 # ERROR: max_connections
}

source "csv" "seed" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.seed
  destination = destination.postgres.local
  table       = "users"
  behavior    = "upsert" # ERROR: behavior
  key         = "id"
}
