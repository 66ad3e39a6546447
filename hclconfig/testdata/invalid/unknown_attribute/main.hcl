destination "postgres" "crm" { # ERROR: Missing required argument # ERROR: The argument "host" is required
  hots     = "db.internal" # ERROR: Unsupported argument # ERROR: An argument named "hots" is not expected here. Did you mean "host"?
  database = "crm"
  user     = "rowform"
  prot     = 5433 # ERROR: Did you mean "port"?

  ssh_tunnel {
    host = "bastion"
    user = "tunnel"
    knwon_hosts_file = "kh" # ERROR: Did you mean "known_hosts_file"?
  }
}

source "csv" "seed" {
  path      = "seed.csv"
  delimeter = ";" # ERROR: Did you mean "delimiter"?
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "append"
  key         = ["id"]
  maping      = { id = "id" } # ERROR: Did you mean "mapping"?

  guard {
    max_delete = 5 # ERROR: Did you mean "max_deletes"?
  }
}

variable "v" {
  default  = "x"
  sensitiv = true # ERROR: Did you mean "sensitive"?
}
