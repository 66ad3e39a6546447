variable "v" {
  default = "a"
}

variable "v" { # ERROR: Duplicate variable name # ERROR: A variable "v" was already declared at
  default = "b"
}

destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

destination "postgres" "crm" { # ERROR: Duplicate destination name # ERROR: already declared at testdata/invalid/duplicate_same_file/main.hcl:9,1.
  host     = "db2"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

source "csv" "seed" { # ERROR: Duplicate source name # ERROR: A source "csv" "seed" was already declared at
  path = "seed2.csv"
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "append"
  key         = "id"
}

sync "s" { # ERROR: Duplicate sync name # ERROR: A sync "s" was already declared at testdata/invalid/duplicate_same_file/main.hcl:29,1.
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "append"
  key         = "id"
}
