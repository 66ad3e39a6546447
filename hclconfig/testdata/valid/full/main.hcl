# The configuration of the README's example (docs/language.md describes each block), with every attribute written out.
variable "crm_password" {
  type        = string
  description = "Password of the rowform role on the CRM database."
  sensitive   = true # never printed, never stored in a plan file
}

destination "postgres" "crm" {
  host            = "db.internal"
  port            = 6543
  database        = "crm"
  user            = "rowform"
  password        = var.crm_password
  max_connections = 4
  sslmode         = "verify-full"
  sslrootcert     = "certs/ca.pem"

  ssh_tunnel {
    host                   = "bastion.example.com"
    port                   = 2222
    user                   = "tunnel"
    private_key_file       = "~/.ssh/id_ed25519"
    private_key_passphrase = env("SSH_KEY_PASSPHRASE")
    known_hosts_file       = "keys/known_hosts"
  }
}

destination "postgres" "pinned" {
  host     = "10.0.0.5"
  database = "ops"
  user     = "rowform"

  ssh_tunnel {
    host        = "bastion2.example.com"
    user        = "tunnel"
    private_key = env("SSH_PRIVATE_KEY")
    host_key    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
  }
}

source "postgres" "warehouse" {
  host     = "warehouse.internal"
  database = "analytics"
  user     = "reader"
  password = env("WAREHOUSE_PASSWORD")
  sslmode  = "require"
}

source "csv" "seed" {
  path      = "data/users.csv"
  header    = false
  delimiter = ";"
}

sync "active_users" {
  source      = source.postgres.warehouse
  query       = file("sql/active_users.sql")
  destination = destination.postgres.crm
  table       = "crm.users"
  behavior    = "update_or_create"
  key         = ["id"]
  mapping = {
    id    = "user_id"
    email = "email_address"
    name  = "full_name"
  }
  sensitive_columns = ["email"]
  depends_on        = [sync.accounts]
  on_reject         = "skip"

  guard {
    max_deletes        = 1000
    max_delete_percent = 5.5
    max_updates        = 100000
    min_source_rows    = 1
    max_reject_percent = 2.5
  }
}

sync "accounts" {
  source      = source.csv.seed
  destination = destination.postgres.pinned
  table       = "accounts"
  behavior    = "mirror"
  key         = "account_id"

  guard {
    max_deletes = 0
  }
}

sync "events" {
  source      = source.postgres.warehouse
  query       = "select id, kind from events"
  destination = destination.postgres.crm
  table       = "\"Audit\".\"Events.2024\""
  behavior    = "append"
  key         = ["id", "kind"]
}
