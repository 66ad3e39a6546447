locals {
  a = 1
  b = 2
}

locals {
  a = 3 # ERROR: Duplicate local value definition # ERROR: A local value named "a" was already defined at
}

locals {
  c = 1
  c = 2 # ERROR: Attribute redefined # ERROR: The argument "c" was already set at
}
