destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "typo" {
  source        = source.csv.seed
  destination   = destination.postgres.crm
  table         = "a"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = "server_hsah" # ERROR: Invalid diff_strategy # ERROR: Did you mean "server_hash"?
}

sync "other_word" {
  source        = source.csv.seed
  destination   = destination.postgres.crm
  table         = "b"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = "fast" # ERROR: diff_strategy must be one of "auto", "server_hash", "full_rows"; "fast" is not one of them.
}

sync "wrong_type" {
  source        = source.csv.seed
  destination   = destination.postgres.crm
  table         = "c"
  behavior      = "mirror"
  key           = "id"
  diff_strategy = ["auto"] # ERROR: Incorrect attribute value type
}
