destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "typo" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skp" # ERROR: Invalid on_reject # ERROR: Did you mean "skip"?
}

sync "upper_case" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "FAIL" # ERROR: on_reject must be one of "fail", "skip"; "FAIL" is not one of them.
}

sync "other_word" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "ignore" # ERROR: on_reject must be one of "fail", "skip"; "ignore" is not one of them.
}

sync "wrong_type" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "mirror"
  key         = "id"
  on_reject   = ["skip"] # ERROR: Incorrect attribute value type
}
