# on_reject and guard.max_reject_percent: both values, the default, the
# bounds of the percentage, and a value computed from a variable.
variable "reject_mode" {
  type    = string
  default = "skip"
}

destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
}

source "csv" "seed" {
  path = "data/seed.csv"
}

sync "omitted" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "a"
  behavior    = "mirror"
  key         = "id"
}

sync "fail" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "b"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "fail"

  guard {
    max_reject_percent = 0
  }
}

sync "skip" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "c"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"

  guard {
    max_reject_percent = 2.5
  }
}

sync "computed" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "d"
  behavior    = "append"
  key         = "id"
  on_reject   = lower(var.reject_mode)

  guard {
    max_deletes        = 10
    max_reject_percent = 100
  }
}
