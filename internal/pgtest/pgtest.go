// Package pgtest gives a test its own PostgreSQL database on the test server
// (testenv.PostgresURL): created empty, dropped when the test ends. It is a
// package of its own so that only the tests that need PostgreSQL link pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quaverbot/quaver/internal/tcpcut"
	"github.com/quaverbot/quaver/internal/testenv"
)

// prefixRE is what Database accepts as a prefix: a lower-case SQL
// identifier, so that the name needs no quoting.
var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,30}$`)

// Database creates an empty database named prefix_<16 random hex digits> on
// the test PostgreSQL server and returns its URL (the server's URL with the
// database in its path). When t and its subtests have finished, the database
// is dropped, with any connections still open to it. Like testenv.PostgresURL,
// it skips t where no server is configured, or fails it under CI=true; it
// fails t when the server cannot be reached or refuses the database.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	if !prefixRE.MatchString(prefix) {
		t.Fatalf("pgtest: prefix %q is not a lower-case identifier of at most 31 characters", prefix)
	}
	admin := testenv.PostgresURL(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: bad QUAVER_TEST_POSTGRES_URL: %v", err)
	}
	var random [8]byte
	_, _ = rand.Read(random[:])
	db := prefix + "_" + hex.EncodeToString(random[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, admin, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("pgtest: create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := run(ctx, admin, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", db, err)
		}
	})
	u.Path = "/" + db
	return u.String()
}

// run runs one statement on its own connection to the server at admin.
func run(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// DatabaseBehindProxy is Database reached through a tcpcut proxy, so a test
// can take PostgreSQL away from whatever connects (Cut) and give it back
// (Restore). It returns the database's direct URL, the URL through the
// proxy, and the proxy, which is closed when the test ends.
func DatabaseBehindProxy(t testing.TB, prefix string) (direct, proxied string, px *tcpcut.Proxy) {
	t.Helper()
	direct = Database(t, prefix)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if px, err = tcpcut.Start(u.Host); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(px.Close)
	u.Host = px.Addr()
	return direct, u.String(), px
}
