destination "postgres" "local" {
  host     = "127.0.0.1"
  database = "app"
  user     = "rowform"
  password = env("PGPASSWORD")
}

source "csv" "seed" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.seed
  destination = destination.postgres.local
  table       = "users"
  behavior    = "update_or_create"
  key         = "id"
}

sync "archive" {
  source      = source.csv.seed
  destination = destination.postgres.local
  table       = "archive.users"
  behavior    = "append"
  key         = ["id"]
  depends_on  = [sync.users]
}
