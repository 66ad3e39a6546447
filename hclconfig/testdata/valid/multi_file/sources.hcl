source "csv" "b" {
  path = "/srv/data/b.csv"
}

source "csv" "a" {
  path = "../shared/a.csv"
}
