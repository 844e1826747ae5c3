package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quaverbot/quaver/internal/pgtest"
)

// seriesKey is one series of quaver_store_operation_duration_seconds.
type seriesKey struct{ backend, op string }

// opCounts gathers reg and returns every exported series of
// quaver_store_operation_duration_seconds with its sample count, and the
// sum of all samples.
func opCounts(t *testing.T, reg *prometheus.Registry) (map[seriesKey]uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[seriesKey]uint64{}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "quaver_store_operation_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k seriesKey
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "backend":
					k.backend = l.GetValue()
				case "op":
					k.op = l.GetValue()
				default:
					t.Fatalf("unexpected label %s=%q", l.GetName(), l.GetValue())
				}
			}
			counts[k] = m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	return counts, sum
}

// unavailableCount is quaver_store_backend_unavailable_total{backend} as
// exported by reg; ok is false when the series is not exported.
func unavailableCount(t *testing.T, reg *prometheus.Registry, backend string) (v float64, ok bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "quaver_store_backend_unavailable_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestOperationDuration: each call is observed once, under the backend that
// serves that part of the store in this configuration and under the
// operation's name; no other backend appears.
func TestOperationDuration(t *testing.T) {
	tests := []struct {
		name              string
		cfg               func(t *testing.T) Config
		snaps, durable    string
		serverRateLimiter bool
	}{
		{name: "embedded", cfg: func(t *testing.T) Config { return Config{} },
			snaps: backendBolt, durable: backendBolt},
		{name: "redis", cfg: func(t *testing.T) Config {
			return Config{RedisURL: redisURL(t), KeyPrefix: redisPrefix + testName(t) + ":"}
		}, snaps: backendRedis, durable: backendBolt, serverRateLimiter: true},
		{name: "postgres", cfg: func(t *testing.T) Config {
			return Config{PostgresURL: pgtest.Database(t, "quaver_store_metrics")}
		}, snaps: backendPostgres, durable: backendPostgres},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			cfg.Path = filepath.Join(t.TempDir(), "q.db")
			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			s := mustOpen(t, cfg)
			ctx := ctxT(t)
			guild := gid(t, 1)

			v, err := s.Snapshots.Put(ctx, freshSnapshot(guild), 0)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := s.Snapshots.Get(ctx, guild); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Snapshots.Put(ctx, freshSnapshot(guild), v+5); !errors.Is(err, ErrVersionConflict) {
				t.Fatalf("stale Put: %v, want a version conflict", err) // failed calls are timed too
			}
			if _, err := s.Snapshots.Update(ctx, guild, func(p *PlayerSnapshot) error { p.Volume = 50; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := s.Settings.Put(ctx, DefaultGuildSettings(guild)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Settings.Get(ctx, guild); err != nil {
				t.Fatal(err)
			}
			l, err := s.Leases.Acquire(ctx, guild, "node-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Leases.Release(ctx, l); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RateLimiter.Allow(ctx, guild, PerSecond(10), 1); err != nil {
				t.Fatal(err)
			}

			want := map[seriesKey]uint64{
				{tc.snaps, opSnapshotPut}:    2,
				{tc.snaps, opSnapshotGet}:    2,
				{tc.snaps, opSnapshotUpdate}: 1, // one observation, whatever it does inside
				{tc.durable, opSettingsPut}:  1,
				{tc.durable, opSettingsGet}:  1,
				{tc.snaps, opLeaseAcquire}:   1,
				{tc.snaps, opLeaseRelease}:   1,
			}
			if tc.serverRateLimiter {
				want[seriesKey{backendRedis, opRateLimitAllow}] = 1
			}
			got, sum := opCounts(t, reg)
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%s{backend=%q,op=%q}: %d observations, want %d", "quaver_store_operation_duration_seconds", k.backend, k.op, got[k], n)
				}
			}
			for k, n := range got {
				if k.backend != tc.snaps && k.backend != tc.durable {
					t.Errorf("series for backend %q (op %q), which serves nothing here", k.backend, k.op)
				}
				if _, ok := want[k]; !ok && n != 0 {
					t.Errorf("{backend=%q,op=%q}: %d observations of calls never made", k.backend, k.op, n)
				}
			}
			if sum <= 0 {
				t.Errorf("durations sum to %v s", sum)
			}
		})
	}
}

// fixedSettings answers at once without allocating, so that what
// TestTimingAllocatesNothing measures is the timing alone.
type fixedSettings struct{}

func (fixedSettings) Get(context.Context, string) (GuildSettings, error) { return GuildSettings{}, nil }
func (fixedSettings) Put(context.Context, GuildSettings) error           { return nil }

func TestTimingAllocatesNothing(t *testing.T) {
	m := newMetrics(nil)
	var s Settings = newTimedSettings(fixedSettings{}, m, backendBolt)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = s.Get(ctx, "1")
		_ = s.Put(ctx, GuildSettings{})
	})
	if allocs != 0 {
		t.Fatalf("timing allocates %v times per call pair, want 0", allocs)
	}
}

// TestPostgresOutageCounted: calls that find PostgreSQL unreachable fail with
// ErrUnavailable and are each counted under backend="postgres", as Redis
// outages are under backend="redis"; once it is back, calls succeed again
// and the count stays where it was.
func TestPostgresOutageCounted(t *testing.T) {
	_, dsn, px := pgtest.DatabaseBehindProxy(t, "quaver_store_outage")
	reg := prometheus.NewRegistry()
	s := mustOpen(t, Config{PostgresURL: dsn, Registerer: reg, OpTimeout: 2 * time.Second})
	ctx := ctxT(t)
	guild := gid(t, 1)
	if err := s.Settings.Put(ctx, DefaultGuildSettings(guild)); err != nil {
		t.Fatal(err)
	}
	if n, ok := unavailableCount(t, reg, backendPostgres); !ok || n != 0 {
		t.Fatalf("before the outage: unavailable{backend=postgres} = %v (exported: %v), want 0 exported", n, ok)
	}

	px.Cut()
	const failing = 3
	for i := range failing {
		if _, err := s.Settings.Get(ctx, guild); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %d during the outage: %v, want ErrUnavailable", i, err)
		}
	}
	if n, _ := unavailableCount(t, reg, backendPostgres); n != failing {
		t.Fatalf("unavailable{backend=postgres} = %v after %d failed calls", n, failing)
	}
	if _, ok := unavailableCount(t, reg, backendRedis); ok {
		t.Fatal("a redis series is exported by a store without Redis")
	}
	if got, _ := opCounts(t, reg); got[seriesKey{backendPostgres, opSettingsGet}] != failing {
		t.Fatalf("settings_get observations = %d, want the %d failed calls", got[seriesKey{backendPostgres, opSettingsGet}], failing)
	}

	px.Restore()
	if _, err := s.Settings.Get(ctx, guild); err != nil {
		t.Fatalf("Get after the outage: %v", err)
	}
	if n, _ := unavailableCount(t, reg, backendPostgres); n != failing {
		t.Fatalf("unavailable{backend=postgres} = %v after recovery, want %d", n, failing)
	}
}
