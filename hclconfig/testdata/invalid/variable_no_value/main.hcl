variable "crm_password" { # ERROR: No value for required variable # ERROR: The variable "crm_password" has no default and was given no value.
  type      = string
  sensitive = true
}

variable "unused" { # ERROR: The variable "unused" has no default
}

destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
  password = var.crm_password
}
