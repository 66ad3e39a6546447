destination "postgres" "crm" { # ERROR: The argument "host" is required # ERROR: The argument "database" is required # ERROR: The argument "user" is required
  port = 5432
}

source "postgres" "warehouse" { # ERROR: The argument "database" is required
  host = "warehouse.internal"
  user = "reader"
}

destination "postgres" "tunnelled" {
  host     = "db"
  database = "d"
  user     = "u"

  ssh_tunnel { # ERROR: The argument "host" is required # ERROR: The argument "user" is required
    port = 2222
  }
}
