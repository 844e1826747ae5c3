// Package testenv tells tests what the machine offers them: the shared test
// data folder, reference tools (ffmpeg, opusdec), Node.js interop clients and
// the Redis/PostgreSQL servers. A missing piece skips the test with a message,
// except under CI=true, where it fails it: CI must run everything.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t with why, or fails it under CI.
func Missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// RepoRoot returns the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedData returns the shared test data folder (QUAVER_TESTDATA, else
// ../shared/testdata beside the checkout) joined with elem, skipping t where
// it is absent.
func SharedData(t testing.TB, elem ...string) string {
	t.Helper()
	dir := os.Getenv("QUAVER_TESTDATA")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared", "testdata")
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared test data not found at "+p+" (set QUAVER_TESTDATA)")
	}
	return p
}

// Tool returns the path of an executable on PATH, skipping t where it is absent.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (make test-deps installs it)")
	}
	return p
}

// NodeModules returns the node executable and the tools/node folder whose
// node_modules holds the interop clients, skipping t where either is absent.
func NodeModules(t testing.TB) (node, dir string) {
	t.Helper()
	node = Tool(t, "node")
	dir = filepath.Join(RepoRoot(), "tools", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		Missing(t, "tools/node/node_modules is missing (run make test-deps)")
	}
	return node, dir
}

// RedisURL returns the Redis server for tests (QUAVER_TEST_REDIS_URL, which
// scripts/test-services.sh sets), skipping t where none is configured.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("QUAVER_TEST_REDIS_URL")
	if u == "" {
		Missing(t, "QUAVER_TEST_REDIS_URL is not set (make test starts or finds a Redis)")
	}
	return u
}

// PostgresURL returns the PostgreSQL server for tests (QUAVER_TEST_POSTGRES_URL),
// skipping t where none is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("QUAVER_TEST_POSTGRES_URL")
	if u == "" {
		Missing(t, "QUAVER_TEST_POSTGRES_URL is not set (make test starts or finds a PostgreSQL)")
	}
	return u
}
