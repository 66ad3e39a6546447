destination "postgres" "crm" {
  host     = lowerr("DB") # ERROR: Call to unknown function # ERROR: Did you mean "lower"?
  database = uuid() # ERROR: There is no function named "uuid".
  user     = upper("u", "v") # ERROR: Too many function arguments
}
