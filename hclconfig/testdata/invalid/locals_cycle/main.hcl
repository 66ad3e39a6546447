locals {
  a    = "${local.b}-a" # ERROR: Cycle in local values # ERROR: local.a -> local.b -> local.c -> local.a
  b    = local.c
  c    = upper(local.a)
  self = local.self # ERROR: local.self -> local.self
  ok   = "fine"
}
