destinaton "postgres" "crm" { # ERROR: Unsupported block type # ERROR: Did you mean "destination"?
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
}

resource "aws_instance" "x" { # ERROR: Blocks of type "resource" are not expected here
}

destination "postgres" "ok" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"

  tunnel { # ERROR: Unsupported block type # ERROR: Blocks of type "tunnel" are not expected here
  }
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.ok
  table       = "users"
  behavior    = "append"
  key         = ["id"]

  guards { # ERROR: Did you mean "guard"?
  }
}

source "csv" "seed" {
  path = "seed.csv"
}
