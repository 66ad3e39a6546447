destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "seed" {
  path = "seed.csv"
}

sync "key_not_mapped" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "append"
  key         = ["idd", "email"] # ERROR: Key column not mapped # ERROR: The key column "idd" is not in the mapping, so rows could not be matched. Did you mean "id"?
  mapping = {
    id    = "user_id"
    email = "email"
  }
}

sync "sensitive_unmapped" {
  source            = source.csv.seed
  destination       = destination.postgres.crm
  table             = "b"
  behavior          = "append"
  key               = "id"
  sensitive_columns = ["emial"] # ERROR: Unknown sensitive column # ERROR: sensitive_columns names "emial", which is not a destination column in the mapping. Did you mean "email"?
  mapping = {
    id    = "user_id"
    email = "email"
  }
}

sync "bad_mappings" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "append"
  key         = "id"
  mapping = {
    id      = "user_id"
    "id"    = "other" # ERROR: Duplicate mapping # ERROR: The destination column "id" is mapped twice
    name    = "" # ERROR: Invalid mapping
    visible = null # ERROR: Invalid mapping
  }
}
