destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "negative" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "mirror"
  key         = ["id"]

  guard {
    max_deletes        = -1 # ERROR: Invalid max_deletes # ERROR: max_deletes must be 0 or more; got -1.
    max_delete_percent = -0.5 # ERROR: max_delete_percent must be between 0 and 100; got -0.5.
    max_updates        = -10 # ERROR: max_updates must be 0 or more
    min_source_rows    = -1 # ERROR: min_source_rows must be 0 or more
    max_reject_percent = -1 # ERROR: Invalid max_reject_percent # ERROR: max_reject_percent must be between 0 and 100; got -1.
  }
}

sync "too_big" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "mirror"
  key         = ["id"]

  guard {
    max_deletes        = 1.5 # ERROR: max_deletes must be a whole number
    max_delete_percent = 101 # ERROR: max_delete_percent must be between 0 and 100; got 101.
    max_updates        = "many" # ERROR: Incorrect attribute value type
    min_source_rows    = 0.25 # ERROR: min_source_rows must be a whole number
    max_reject_percent = 100.5 # ERROR: max_reject_percent must be between 0 and 100; got 100.5.
  }
}

sync "reject_percent_type" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "mirror"
  key         = ["id"]

  guard {
    max_reject_percent = "5%" # ERROR: Incorrect attribute value type
  }
}
