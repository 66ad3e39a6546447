# Sorts before syncs.hcl, so its sync comes first in Config.Syncs, but it
# depends on "third" so OrderedSyncs puts it last.
sync "zeta" {
  source      = source.csv.b
  destination = destination.postgres.crm
  table       = "tz"
  behavior    = "append"
  key         = "id"
  depends_on  = [sync.third]
}
