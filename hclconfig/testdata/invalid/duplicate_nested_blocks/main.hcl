destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"

  ssh_tunnel {
    host = "bastion1"
    user = "tunnel"
  }

  ssh_tunnel { # ERROR: Duplicate ssh_tunnel block # ERROR: Only one ssh_tunnel block is allowed; the first is at testdata/invalid/duplicate_nested_blocks/main.hcl:6,3.
    host = "bastion2"
    user = "tunnel"
  }
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "mirror"
  key         = "id"

  guard {
    max_deletes = 10
  }

  guard { # ERROR: Duplicate guard block # ERROR: Only one guard block is allowed
    max_deletes = 20
  }
}
