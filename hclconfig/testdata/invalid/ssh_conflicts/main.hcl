destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"

  ssh_tunnel {
    host             = "bastion"
    user             = "tunnel"
    private_key_file = "~/.ssh/id_ed25519"
    private_key      = env("WAREHOUSE_PASSWORD") # ERROR: Conflicting SSH key attributes # ERROR: Give either private_key_file (at testdata/invalid/ssh_conflicts/main.hcl:9,5) or private_key, not both.
    known_hosts_file = "~/.ssh/known_hosts"
    host_key         = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" # ERROR: Conflicting host key attributes # ERROR: Give either known_hosts_file (at testdata/invalid/ssh_conflicts/main.hcl:11,5) or a pinned host_key, not both.
  }
}
