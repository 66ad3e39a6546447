# A whole number that does not fit in an int64 is out of range, not "not a
# whole number".
destination "postgres" "crm" {
  host            = "db"
  port            = 100000000000000000000 # ERROR: port must be between 1 and 65535
  database        = "d"
  user            = "u"
  max_connections = 1e30 # ERROR: max_connections must be between 1 and 8
}
