destination "postgres" "crm" {
  host     = env("PGHOST")
  database = "d"
  user     = env("PGUSER") # ERROR: Invalid function argument # ERROR: environment variable "PGUSER" is not set
  password = env("") # ERROR: the environment variable name must not be empty
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
  password = env("WAREHOUSE_PASSWORD")
}
