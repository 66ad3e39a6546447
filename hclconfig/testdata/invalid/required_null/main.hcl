# null for a required argument is the same as leaving it out: an error, not
# an empty value in a Config returned without errors.
destination "postgres" "crm" {
  host     = null # ERROR: Missing required argument
  database = null # ERROR: Missing required argument
  user     = "u"
}

source "csv" "seed" {
  path = null # ERROR: Missing required argument
}

sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = null # ERROR: Missing required argument
  behavior    = null # ERROR: Missing required argument
  key         = null # ERROR: Missing required argument
}
