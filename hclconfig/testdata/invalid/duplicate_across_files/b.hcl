variable "region" { # ERROR: Duplicate variable name # ERROR: already declared at testdata/invalid/duplicate_across_files/a.hcl:1,1.
  default = "us"
}

destination "postgres" "crm" { # ERROR: Duplicate destination name # ERROR: already declared at testdata/invalid/duplicate_across_files/a.hcl:5,1.
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" { # ERROR: Duplicate source name # ERROR: already declared at testdata/invalid/duplicate_across_files/a.hcl:11,1.
  path = "seed.csv"
}

sync "s" { # ERROR: Duplicate sync name # ERROR: already declared at testdata/invalid/duplicate_across_files/a.hcl:15,1.
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "append"
  key         = "id"
}

locals {
  name = "b" # ERROR: Duplicate local value definition # ERROR: already defined at testdata/invalid/duplicate_across_files/a.hcl:24,3.
}
