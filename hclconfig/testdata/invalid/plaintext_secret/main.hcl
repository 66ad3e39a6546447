# A secret written as a literal is a warning at its line: the snippet of the
# line masks the secret (a literal password is one of the configuration's
# secrets).
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
  password = "hunter2" # WARNING: Secret written in the configuration # WARNING: The password is a literal in the configuration file

  ssh_tunnel {
    host                   = "bastion"
    user                   = "tunnel"
    private_key            = "-----BEGIN OPENSSH PRIVATE KEY-----" # WARNING: The private_key is a literal
    private_key_passphrase = "open sesame" # WARNING: The private_key_passphrase is a literal
  }
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
  password = lower("ALSO-IN-THE-FILE") # WARNING: The password is a literal
}

source "postgres" "ok" {
  host     = "db"
  database = "d"
  user     = "u"
  password = env("WAREHOUSE_PASSWORD")
}
