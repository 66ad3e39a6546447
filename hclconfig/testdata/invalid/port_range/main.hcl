destination "postgres" "low" {
  host     = "db"
  port     = 0 # ERROR: Invalid port # ERROR: port must be between 1 and 65535; got 0.
  database = "d"
  user     = "u"
}

source "postgres" "high" {
  host     = "db"
  port     = 70000 # ERROR: port must be between 1 and 65535; got 70000.
  database = "d"
  user     = "u"

  ssh_tunnel {
    host = "bastion"
    user = "tunnel"
    port = 0 # ERROR: port must be between 1 and 65535
  }
}

destination "postgres" "negative" {
  host     = "db"
  port     = -1 # ERROR: port must be between 1 and 65535
  database = "d"
  user     = "u"
}

destination "postgres" "fraction" {
  host     = "db"
  port     = 5432.5 # ERROR: port must be a whole number
  database = "d"
  user     = "u"
}
