package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// Each test run creates its own PostgreSQL database (quaver_test_<random>),
// dropped when the run ends, and its own Redis key prefix, deleted likewise.

var (
	runID       = randomHex(6)
	cleanupMu   sync.Mutex
	cleanups    []func()
	pgOnce      sync.Once
	pgRunURL    string
	pgRunErr    error
	redisPrefix = "quaver_test_" + runID + ":"
)

// quietRedis drops go-redis's own log lines (one per failed dial during the
// outage tests); the store logs outages itself.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path) // never returns: the parent kills it
	}
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		cleanupMu.Lock()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		cleanupMu.Unlock()
		os.Exit(code)
	}))
}

func atExit(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns base with its database name replaced.
func withDatabase(t testing.TB, base, db string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("bad QUAVER_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + db
	return u.String()
}

// createDatabase creates a fresh database and schedules its drop at exit.
func createDatabase(t testing.TB, base, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", base, err)
	}
	defer conn.Close(ctx)
	// Identifiers cannot be parameters; name is generated here from hex digits only.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	atExit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			fmt.Fprintf(os.Stderr, "store tests: could not drop database %s: %v\n", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "store tests: could not drop database %s: %v\n", name, err)
		}
	})
	return withDatabase(t, base, name), nil
}

// pgURL returns this run's database, created on first use.
func pgURL(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	pgOnce.Do(func() { pgRunURL, pgRunErr = createDatabase(t, base, "quaver_test_"+runID) })
	if pgRunErr != nil {
		t.Fatalf("postgres: %v", pgRunErr)
	}
	return pgRunURL
}

// redisURL returns the test Redis and registers deletion of this run's keys.
var redisCleanupOnce sync.Once

func redisURL(t testing.TB) string {
	t.Helper()
	u := testenv.RedisURL(t)
	redisCleanupOnce.Do(func() {
		atExit(func() { deleteKeys(u, redisPrefix) })
	})
	return u
}

func deleteKeys(u, prefix string) {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}

// testName makes a per-test unique, key-safe name.
func testName(t testing.TB) string {
	n := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(n) > 60 {
		n = n[len(n)-60:]
	}
	return n + "_" + randomHex(3)
}
