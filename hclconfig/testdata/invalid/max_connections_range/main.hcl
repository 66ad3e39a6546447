destination "postgres" "zero" {
  host            = "db"
  database        = "d"
  user            = "u"
  max_connections = 0 # ERROR: Invalid max_connections # ERROR: max_connections must be between 1 and 8; got 0.
}

destination "postgres" "nine" {
  host            = "db"
  database        = "d"
  user            = "u"
  max_connections = 9 # ERROR: max_connections must be between 1 and 8; got 9.
}

source "postgres" "src" {
  host            = "db"
  database        = "d"
  user            = "u"
  max_connections = 100 # ERROR: max_connections must be between 1 and 8
}
