variable "db_host" {
  type = string
}

variable "pool" {
  type    = number
  default = 2
}
