package catalog

import (
	"context"
	"fmt"
	"slices"
)

// TableIdentity is a destination table as the server names it, whatever
// the configuration's spelling of the server (an IP address or a host
// name, an alias, through an SSH tunnel or not) and of the table.
type TableIdentity struct {
	// Database is equal for two sessions exactly when they reached the same
	// database of the same running server: the cluster's system identifier
	// (pg_control_system(), which every role may call), the time the
	// server started, and the database's oid. The system identifier alone
	// is shared by a physical copy of the cluster (a standby, a restored
	// base backup or disk snapshot); the start time tells such copies
	// apart, and a restart of the server in between only makes two
	// sessions to it look like two databases.
	Database string
	// Lineage is the table's oid followed by those of the partitioned
	// tables it is a partition of, up to the root of its partition tree;
	// the table's alone when it is no partition.
	Lineage []uint32
}

// LoadTableIdentity reads the identity of table (an oid) on q's database,
// in one query. It fails where pg_control_system() is not granted or not
// supported: outside a transaction the session stays usable, inside one
// the failure aborts it.
func LoadTableIdentity(ctx context.Context, q Querier, table uint32) (TableIdentity, error) {
	var id TableIdentity
	err := q.QueryRow(ctx, `
SELECT s.system_identifier::text
       || '/' || round(extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text
       || '/' || d.oid::text,
       ARRAY[$1::oid] || ARRAY(SELECT a.relid FROM pg_partition_ancestors($1::oid::regclass) a WHERE a.relid <> $1::oid)
FROM pg_control_system() s, pg_database d
WHERE d.datname = current_database()`, table).Scan(&id.Database, &id.Lineage)
	if err != nil {
		return TableIdentity{}, fmt.Errorf("reading the identity of the server and of the table: %w", err)
	}
	return id, nil
}

// Overlaps reports whether writing one of the two tables can change the
// rows of the other: they are one table of one database, or one is a
// partition (at any depth) of the other. Two partitions of one table
// overlap only when one is a partition of the other: a write into a
// partition never reaches a sibling, PostgreSQL refuses a row that does
// not belong in the partition written (an UPDATE moves a row between
// partitions only when it writes their partitioned table).
func (id TableIdentity) Overlaps(other TableIdentity) bool {
	return id.SameTable(other) || id.PartitionOf(other) || other.PartitionOf(id)
}

// SameTable reports whether the two are one table of one database.
func (id TableIdentity) SameTable(other TableIdentity) bool {
	return id.known() && other.known() && id.Database == other.Database && id.Lineage[0] == other.Lineage[0]
}

// PartitionOf reports whether id is a partition of other, directly or
// through partitions of its own, in one database.
func (id TableIdentity) PartitionOf(other TableIdentity) bool {
	return id.known() && other.known() && id.Database == other.Database && slices.Contains(id.Lineage[1:], other.Lineage[0])
}

// known reports whether the identity was read.
func (id TableIdentity) known() bool { return id.Database != "" && len(id.Lineage) > 0 }
