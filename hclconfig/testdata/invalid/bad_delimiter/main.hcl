source "csv" "two" {
  path      = "a.csv"
  delimiter = ",," # ERROR: Invalid delimiter # ERROR: delimiter must be exactly one character other than a quote or a line break; got ",,".
}

source "csv" "empty" {
  path      = "b.csv"
  delimiter = "" # ERROR: Invalid delimiter
}

source "csv" "quote" {
  path      = "c.csv"
  delimiter = "\"" # ERROR: Invalid delimiter
}

source "csv" "newline" {
  path      = "d.csv"
  delimiter = "\n" # ERROR: Invalid delimiter
}

source "csv" "nopath" {
  path = "" # ERROR: Invalid path # ERROR: path must name a CSV file.
}
