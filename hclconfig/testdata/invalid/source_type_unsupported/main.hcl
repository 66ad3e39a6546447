source "mongodb" "events" { # ERROR: Unsupported source type # ERROR: Supported types: "postgres", "csv", "duckdb".
  uri = "mongodb://x"
}

source "cvs" "seed" { # ERROR: Did you mean "csv"?
  path = "seed.csv"
}
