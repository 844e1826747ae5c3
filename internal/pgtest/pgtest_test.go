package pgtest

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/quaverbot/quaver/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dbName is the database in a PostgreSQL URL.
func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// exists reports whether the server at admin has a database named db.
func exists(t *testing.T, ctx context.Context, admin, db string) bool {
	t.Helper()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", db).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestDatabase: each call gives an empty database of its own that takes
// tables and rows, and it is gone after the test, even with a connection
// to it still open.
func TestDatabase(t *testing.T) {
	admin := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var names []string
	var open []*pgx.Conn
	t.Run("use", func(t *testing.T) {
		for range 2 {
			dsn := Database(t, "quaver_pgtest")
			db := dbName(t, dsn)
			if !strings.HasPrefix(db, "quaver_pgtest_") {
				t.Errorf("database %q does not start with the prefix", db)
			}
			names = append(names, db)
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, conn) // left open: the drop must not wait for it
			var current string
			var tables int
			if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')").Scan(&current, &tables); err != nil {
				t.Fatal(err)
			}
			if current != db || tables != 0 {
				t.Errorf("connected to %q with %d tables, want %q and none", current, tables, db)
			}
			var got string
			if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&got); err != nil || got != "kept" {
				t.Fatalf("read back %q, %v; want the row written", got, err)
			}
		}
		if names[0] == names[1] {
			t.Errorf("two calls gave the same database %q", names[0])
		}
		for _, db := range names {
			if !exists(t, ctx, admin, db) {
				t.Errorf("database %s missing during the test", db)
			}
		}
	})
	for _, conn := range open {
		_ = conn.Close(ctx) // already ended by the drop
	}
	for _, db := range names {
		if exists(t, ctx, admin, db) {
			t.Errorf("database %s still exists after the test", db)
		}
	}
}

// childEnv makes TestDatabaseWithoutServer, run as a child process, call
// Database with the prefix it holds.
const childEnv = "QUAVER_PGTEST_CHILD_PREFIX"

// TestDatabaseWithoutServer runs Database in a child test process: with no
// server configured it skips the test, or fails it under CI=true; with a
// server that cannot be reached, or a bad prefix, it fails it.
func TestDatabaseWithoutServer(t *testing.T) {
	if prefix, ok := os.LookupEnv(childEnv); ok {
		t.Logf("got database %s", Database(t, prefix))
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "postgres://postgres@" + ln.Addr().String() + "/postgres?sslmode=disable&connect_timeout=5"
	_ = ln.Close() // nothing listens there now
	for _, tc := range []struct {
		name, url, ci, prefix string
		want                  []string // in the child's output
	}{
		{name: "no server", prefix: "quaver_pgtest",
			want: []string{"--- SKIP", "QUAVER_TEST_POSTGRES_URL is not set"}},
		{name: "no server in CI", ci: "true", prefix: "quaver_pgtest",
			want: []string{"--- FAIL", "CI=true but QUAVER_TEST_POSTGRES_URL is not set"}},
		{name: "server down", url: down, prefix: "quaver_pgtest",
			want: []string{"--- FAIL", "pgtest: create database quaver_pgtest_"}},
		{name: "bad prefix", url: down, prefix: "Quaver-Test",
			want: []string{"--- FAIL", `prefix "Quaver-Test" is not`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDatabaseWithoutServer$", "-test.v", "-test.count=1")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "QUAVER_TEST_POSTGRES_URL=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, childEnv+"="+tc.prefix, "CI="+tc.ci, "QUAVER_TEST_POSTGRES_URL="+tc.url)
			out, err := cmd.CombinedOutput()
			t.Logf("child: %v\n%s", err, out)
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q", w)
				}
			}
			if strings.Contains(string(out), "got database") {
				t.Error("Database returned")
			}
		})
	}
}

// Through the proxy the database is the same one the direct URL names; a
// cut proxy makes it unreachable for new connections, Restore brings it back.
func TestDatabaseBehindProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	direct, proxied, px := DatabaseBehindProxy(t, "quaver_pgtest_px")
	if dbName(t, direct) != dbName(t, proxied) || direct == proxied {
		t.Fatalf("direct %q and proxied %q should name one database on two addresses", direct, proxied)
	}
	query := func() error {
		conn, err := pgx.Connect(ctx, proxied)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
			return err
		}
		if db != dbName(t, direct) {
			t.Fatalf("connected to %q through the proxy, want %q", db, dbName(t, direct))
		}
		return nil
	}
	if err := query(); err != nil {
		t.Fatal(err)
	}
	px.Cut()
	if err := query(); err == nil {
		t.Fatal("the database was reachable through a cut proxy")
	}
	px.Restore()
	if err := query(); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
