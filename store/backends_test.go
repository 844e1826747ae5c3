package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// backend is one way of opening Stores for the contract suite.
type backend struct {
	name string
	// setup prepares an isolated namespace and returns an opener of Stores
	// sharing it. cfg carries test tuning; setup fills in where data lives.
	setup func(t testing.TB) (open func(t testing.TB, cfg Config) *Store)
	// multiNode: two Stores from one setup may be open at once and share state.
	multiNode bool
	// plant writes raw bytes as guildID's stored snapshot, bypassing validation.
	plant func(t *testing.T, s *Store, guildID string, data []byte)
}

func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var embeddedBackend = backend{
	name: "embedded",
	setup: func(t testing.TB) func(testing.TB, Config) *Store {
		path := filepath.Join(t.TempDir(), "quaver.db")
		return func(t testing.TB, cfg Config) *Store {
			cfg.Path = path
			return mustOpen(t, cfg)
		}
	},
	plant: func(t *testing.T, s *Store, guildID string, data []byte) {
		b := s.snaps.eng.(*boltBackend)
		if err := b.putRawSnapshot(guildID, 1, data); err != nil {
			t.Fatal(err)
		}
	},
}

var redisBackendT = backend{
	name:      "redis",
	multiNode: true,
	setup: func(t testing.TB) func(testing.TB, Config) *Store {
		u := redisURL(t)
		prefix := redisPrefix + testName(t) + ":"
		dir := t.TempDir()
		return func(t testing.TB, cfg Config) *Store {
			cfg.RedisURL, cfg.KeyPrefix = u, prefix
			cfg.Path = filepath.Join(dir, randomHex(4)+".db") // durable records of a Redis-only node
			if cfg.RetryInterval == 0 {
				cfg.RetryInterval = 50 * time.Millisecond
			}
			return mustOpen(t, cfg)
		}
	},
	plant: func(t *testing.T, s *Store, guildID string, data []byte) {
		r := s.redis
		ctx := context.Background()
		if err := r.c.HSet(ctx, r.snaps.hashKey(guildID), "v", 1, "d", data).Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.c.SAdd(ctx, r.snaps.setKey(), guildID).Err(); err != nil {
			t.Fatal(err)
		}
	},
}

var postgresBackendT = backend{
	name:      "postgres",
	multiNode: true,
	setup: func(t testing.TB) func(testing.TB, Config) *Store {
		u := pgURL(t)
		return func(t testing.TB, cfg Config) *Store {
			cfg.PostgresURL = u
			return mustOpen(t, cfg)
		}
	},
	plant: func(t *testing.T, s *Store, guildID string, data []byte) {
		pg := s.snaps.eng.(*pgBackend)
		_, err := pg.pool.Exec(context.Background(), `INSERT INTO snapshots (guild_id, version, data) VALUES ($1, 1, $2)
			ON CONFLICT (guild_id) DO UPDATE SET data = EXCLUDED.data`, guildID, data)
		if err != nil {
			t.Fatal(err)
		}
	},
}

func TestContractEmbedded(t *testing.T) { runContract(t, embeddedBackend) }
func TestContractRedis(t *testing.T)    { runContract(t, redisBackendT) }
func TestContractPostgres(t *testing.T) { runContract(t, postgresBackendT) }

// redisPostgresBackend is the cluster configuration: hot state in Redis,
// durable records in PostgreSQL.
var redisPostgresBackend = backend{
	name:      "redis+postgres",
	multiNode: true,
	setup: func(t testing.TB) func(testing.TB, Config) *Store {
		ru, pu := redisURL(t), pgURL(t)
		prefix := redisPrefix + testName(t) + ":"
		return func(t testing.TB, cfg Config) *Store {
			cfg.RedisURL, cfg.PostgresURL, cfg.KeyPrefix = ru, pu, prefix
			if cfg.RetryInterval == 0 {
				cfg.RetryInterval = 50 * time.Millisecond
			}
			return mustOpen(t, cfg)
		}
	},
	plant: redisBackendT.plant,
}

func TestContractRedisPostgres(t *testing.T) { runContract(t, redisPostgresBackend) }

// TestOpenPicksBackends: which backend serves which part, per Config.
func TestOpenPicksBackends(t *testing.T) {
	tests := []struct {
		name          string
		redis, pg     bool
		want          Info
		needsServices bool
	}{
		{"no URL", false, false, Info{Snapshots: "embedded", Durable: "embedded", RateLimiter: "local", Leases: "embedded"}, false},
		{"redis", true, false, Info{Snapshots: "redis", Durable: "embedded", RateLimiter: "redis", TrackCacheL2: "redis", Leases: "redis"}, true},
		{"postgres", false, true, Info{Snapshots: "postgres", Durable: "postgres", RateLimiter: "local", Leases: "postgres"}, true},
		{"both", true, true, Info{Snapshots: "redis", Durable: "postgres", RateLimiter: "redis", TrackCacheL2: "redis", Leases: "redis"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Path: filepath.Join(t.TempDir(), "q.db"), KeyPrefix: redisPrefix + testName(t) + ":"}
			if tc.redis {
				cfg.RedisURL = redisURL(t)
			}
			if tc.pg {
				cfg.PostgresURL = pgURL(t)
			}
			got := mustOpen(t, cfg).Info()
			got.MigrationsApplied = 0
			if got != tc.want {
				t.Fatalf("Info = %+v, want %+v", got, tc.want)
			}
		})
	}
}
