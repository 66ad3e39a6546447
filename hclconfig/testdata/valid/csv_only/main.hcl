# Everything left at its default.
destination "postgres" "local" {
  host     = "localhost"
  database = "app"
  user     = "app"
}

source "csv" "seed" {
  path = "data/seed.csv"
}

sync "seed" {
  source      = source.csv.seed
  destination = destination.postgres.local
  table       = "users"
  behavior    = "update_only"
  key         = "id"
}

destination "postgres" "tunnelled" {
  host     = "10.1.2.3"
  database = "app"
  user     = "app"

  ssh_tunnel {
    host = "bastion.example.com"
    user = "tunnel"
  }
}
