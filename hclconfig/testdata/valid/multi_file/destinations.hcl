destination "postgres" "crm" {
  host            = var.db_host
  database        = "crm"
  user            = "rowform"
  max_connections = var.pool
}
