sync "empty" { # ERROR: The argument "source" is required # ERROR: The argument "destination" is required # ERROR: The argument "table" is required # ERROR: The argument "behavior" is required # ERROR: The argument "key" is required
}
