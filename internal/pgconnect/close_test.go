package pgconnect_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/sshtest"
)

// TestCloseWaitsForTheServer: when Close returns, the server has ended the
// session: it is no longer in pg_stat_activity, directly and through an
// SSH tunnel. The sessions hold many temporary tables, which a backend
// drops on its way out while it is still listed; pgx's own Close (the
// control) returns while the backend is still there, so the test sees the
// difference.
func TestCloseWaitsForTheServer(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	admin, err := pgx.Connect(context.Background(), c.ConnString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	listed := func(pid uint32) bool {
		t.Helper()
		var n int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	direct := server(c, "disable", "")
	_, tun := bastion(t, c)
	tunneled := server(c, "disable", "")
	tunneled.Host = bastionOnlyName
	tunneled.SSHTunnel = tun
	connector := pgconnect.NewConnector(nil)
	defer connector.Close()
	open := func(s *hclconfig.Server) *pgx.Conn {
		t.Helper()
		cfg, err := pgconnect.Config(s, "rowform/close")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := connector.Connect(context.Background(), s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for batch := 0; batch < 2; batch++ { // 400 tables: about 200 ms to drop
			if _, err := conn.Exec(context.Background(), fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..200 LOOP EXECUTE format('CREATE TEMP TABLE t%d_%%s (a int, b text)', i); END LOOP; END $$`, batch)); err != nil {
				t.Fatal(err)
			}
		}
		return conn
	}

	control := open(direct)
	pid := control.PgConn().PID()
	if err := control.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !listed(pid) {
		t.Fatal("control: the session was gone as soon as pgx's Close returned; the test cannot tell Close from it")
	}
	for name, s := range map[string]*hclconfig.Server{"direct": direct, "through the tunnel": tunneled} {
		conn := open(s)
		pid := conn.PgConn().PID()
		start := time.Now()
		if err := pgconnect.Close(context.Background(), conn); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
		if listed(pid) {
			t.Errorf("%s: the session was still on the server when Close returned (after %s)", name, time.Since(start))
		}
		if !conn.IsClosed() {
			t.Errorf("%s: the pgx connection is not closed", name)
		}
	}
}
