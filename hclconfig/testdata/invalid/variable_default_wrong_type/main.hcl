# A default of the wrong type is reported once, at the default. The variable
# does have a default, so it must not also get "has no default and was given
# no value" at its header.
variable "port" {
  type    = number
  default = "five" # ERROR: Invalid default value for variable # ERROR: The default value of variable "port" does not match its type
}

variable "tags" {
  type    = list(string)
  default = "a" # ERROR: Invalid default value for variable
}

variable "bad_type" {
  type    = strin # ERROR: Invalid type specification
  default = "x"
}

variable "computed" {
  default = var.port # ERROR: Variables not allowed
}

variable "flag" {
  sensitive   = "sometimes" # ERROR: Incorrect attribute value type
  description = ["x"] # ERROR: Incorrect attribute value type
  default     = true
}

variable "1bad" { # ERROR: Invalid name
  default = 1
}
