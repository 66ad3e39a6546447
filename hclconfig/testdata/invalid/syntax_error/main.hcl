destination "postgres" "crm" {
  host     = "db"
  database = # ERROR: Invalid expression
  user     = "u"
}
