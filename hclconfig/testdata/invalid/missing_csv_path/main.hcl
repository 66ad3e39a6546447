source "csv" "seed" { # ERROR: Missing required argument # ERROR: The argument "path" is required
  header = false
}
