# A secret written as a literal is a warning. It has no Subject, so that no
# snippet of the line (which shows the secret) is printed; the detail names
# the place instead.
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
  password = "hunter2" # WARNING(nofile): Secret written in the configuration # WARNING(nofile): The password at testdata/invalid/plaintext_secret/main.hcl:8,3 is a literal in the configuration file

  ssh_tunnel {
    host                   = "bastion"
    user                   = "tunnel"
    private_key            = "-----BEGIN OPENSSH PRIVATE KEY-----" # WARNING(nofile): The private_key at testdata/invalid/plaintext_secret/main.hcl:13,5 is a literal
    private_key_passphrase = "open sesame" # WARNING(nofile): The private_key_passphrase at testdata/invalid/plaintext_secret/main.hcl:14,5 is a literal
  }
}

source "postgres" "wh" {
  host     = "db"
  database = "d"
  user     = "u"
  password = lower("ALSO-IN-THE-FILE") # WARNING(nofile): The password at testdata/invalid/plaintext_secret/main.hcl:22,3 is a literal
}

source "postgres" "ok" {
  host     = "db"
  database = "d"
  user     = "u"
  password = env("WAREHOUSE_PASSWORD")
}
