# The warehouse is reachable directly; the CRM database only through a
# bastion, whose host key is pinned in ssh/known_hosts.

source "postgres" "warehouse" {
  host            = var.warehouse_host
  database        = local.warehouse_database
  user            = "rowform_reader"
  password        = env("WAREHOUSE_PASSWORD")
  max_connections = 2
  sslmode         = "require"
}

destination "postgres" "crm" {
  host            = var.crm_host
  database        = "crm"
  user            = "rowform"
  password        = var.crm_password
  max_connections = 4
  sslmode         = "require"

  ssh_tunnel {
    host             = var.bastion_host
    user             = "tunnel"
    private_key_file = var.ssh_key_file
    known_hosts_file = "ssh/known_hosts" # relative to this directory
  }
}
