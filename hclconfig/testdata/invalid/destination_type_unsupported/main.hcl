destination "mysql" "crm" { # ERROR: Unsupported destination type # ERROR: There is no destination type "mysql". Supported types: "postgres".
  host     = "db"
  database = "d"
  user     = "u"
}

destination "postgre" "crm2" { # ERROR: Did you mean "postgres"?
  host     = "db"
  database = "d"
  user     = "u"
}

destination "postgres" { # ERROR: Missing name for destination
  host     = "db"
  database = "d"
  user     = "u"
}
