destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
  sslmode  = "verify_full" # ERROR: Invalid sslmode # ERROR: "verify_full" is not one of them. # ERROR: Did you mean "verify-full"?
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
  sslmode  = "on" # ERROR: sslmode must be one of "disable", "allow", "prefer", "require", "verify-ca", "verify-full"
}
