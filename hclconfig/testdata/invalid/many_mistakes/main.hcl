# Many mistakes in one file: every one is reported in the same run.
variable "region" {
  type    = numbr # ERROR: Invalid type specification
  default = "eu"
}

destination "postgres" "crm" {
  hots            = "db.internal" # ERROR: An argument named "hots" is not expected here.
  host            = "db.internal"
  port            = 0 # ERROR: port must be between 1 and 65535
  database        = "crm"
  user            = "rowform"
  max_connections = 9 # ERROR: max_connections must be between 1 and 8
  sslmode         = "strict" # ERROR: Invalid sslmode
}

destination "mysql" "legacy" { # ERROR: Unsupported destination type
}

source "csv" "seed" {
  path      = "data/users.csv"
  delimiter = ";;" # ERROR: Invalid delimiter
}

sync "active_users" {
  source      = source.csv.sede # ERROR: Did you mean "csv.seed"?
  query       = "select 1"
  destination = destination.postgres.crm
  table       = "a.b.c" # ERROR: Invalid table
  behavior    = "update_or_creat" # ERROR: Did you mean "update_or_create"?
  key         = [] # ERROR: key must name at least one column.
  depends_on  = [sync.acounts] # ERROR: Reference to undeclared sync

  guard {
    max_delete_percent = 150 # ERROR: max_delete_percent must be between 0 and 100
  }
}

sync "orders" { # ERROR: The argument "key" is required
  source      = source.csv.seed
  query       = "select 2" # ERROR: The source csv.seed is a CSV file, which has no query
  destination = destination.postgres.crm
  table       = "orders"
  behavior    = "mirror"
}
