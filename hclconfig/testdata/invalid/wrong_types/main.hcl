destination "postgres" "crm" {
  host            = "db.internal"
  port            = "x" # ERROR: Incorrect attribute value type # ERROR: a number is required
  database        = "crm"
  user            = ["rowform"] # ERROR: Incorrect attribute value type
  max_connections = "a" # ERROR: Incorrect attribute value type
}

source "csv" "seed" {
  path   = "seed.csv"
  header = "maybe" # ERROR: Incorrect attribute value type # ERROR: a bool is required
}

sync "s" {
  source            = source.csv.seed
  destination       = destination.postgres.crm
  table             = "users"
  behavior          = "append"
  key               = 5 # ERROR: Incorrect attribute value type # ERROR: a string or a list of strings is required
  sensitive_columns = { a = "b" } # ERROR: Incorrect attribute value type
  mapping = {
    id    = "id"
    email = 5 # ERROR: The mapping for "email" must be a source column name as a string
  }
}
