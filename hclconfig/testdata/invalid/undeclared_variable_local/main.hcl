variable "db_host" {
  default = "db"
}

locals {
  db_name = "crm"
  alias   = local.db_nmae # ERROR: Reference to undeclared local value # ERROR: Did you mean "db_name"?
}

destination "postgres" "crm" {
  host     = var.db_hots # ERROR: Reference to undeclared input variable # ERROR: An input variable named "db_hots" is not declared. Did you mean "db_host"?
  database = local.db_nam # ERROR: A local value named "db_nam" is not declared. Did you mean "db_name"?
  user     = var.user # ERROR: An input variable named "user" is not declared.
  password = vars.pw # ERROR: Unknown variable # ERROR: There is no variable named "vars". Did you mean "var"?
  sslmode  = var # ERROR: Invalid variable reference
}
