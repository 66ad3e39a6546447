# A comma makes a host list, which libpq and pgx try in turn: a socket
# first would pass the list for a local server and send the password in
# plain text to the next host.
destination "postgres" "crm" {
  host     = "/var/run/postgresql,192.0.2.2" # ERROR: Invalid host # ERROR: it holds a comma
  database = "d"
  user     = "u"
}
