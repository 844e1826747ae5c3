package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisProcess is a redis-server this test starts, with an append-only file
// so that a kill -9 and restart keeps what was acknowledged.
type redisProcess struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func (p *redisProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--dir", p.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", filepath.Join(p.dir, "redis.log"))
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p.port), MaxRetries: -1})
	defer c.Close()
	waitFor(p.t, 20*time.Second, "redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

func (p *redisProcess) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// TestRedisRestart: 50 guilds keep updating their snapshots while the Redis
// server is killed (-9) and restarted. No update may fail or be lost: writes
// during the outage are queued and written back once Redis is there again.
func TestRedisRestart(t *testing.T) {
	bin := testenv.Tool(t, "redis-server")
	rp := &redisProcess{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	rp.start()
	t.Cleanup(rp.kill)

	s := mustOpen(t, Config{RedisURL: fmt.Sprintf("redis://127.0.0.1:%d/0", rp.port), Path: filepath.Join(t.TempDir(), "q.db"),
		RetryInterval: 50 * time.Millisecond, OpTimeout: 2 * time.Second, KeyPrefix: "rr:"})
	const guilds, perGuild = 50, 60
	ctx := ctxT(t)
	var done atomic.Int64
	// Writers pause at 2/3 until Redis is back, so that part of the run happens
	// during the outage; the kill itself lands while they are writing.
	phase := make([]chan struct{}, 2)
	for i := range phase {
		phase[i] = make(chan struct{})
	}
	var atPhase [2]sync.WaitGroup
	atPhase[1].Add(guilds)
	var wg sync.WaitGroup
	errs := make(chan error, guilds)
	for g := range guilds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("guild-%02d", g)
			for i := range perGuild {
				switch i {
				case 2 * perGuild / 3:
					atPhase[1].Done()
					<-phase[1]
				}
				if _, err := s.Snapshots.Update(ctx, id, func(p *PlayerSnapshot) error {
					p.Position += time.Millisecond
					p.Queue = append(p.Queue[:0], Track{ID: fmt.Sprint("next-", i)})
					return nil
				}); err != nil {
					errs <- fmt.Errorf("%s update %d: %w", id, i, err)
					return
				}
				if i%10 == 0 {
					if err := s.Snapshots.Checkpoint(ctx, id, time.Duration(i+1)*time.Millisecond); err != nil {
						errs <- fmt.Errorf("%s checkpoint %d: %w", id, i, err)
						return
					}
				}
				done.Add(1)
			}
		}()
	}
	waitFor(t, 60*time.Second, "a third of the updates", func() bool { return done.Load() >= guilds*perGuild/3 })
	rp.kill() // Redis dies with the guilds mid-playback
	waitGroup(t, &atPhase[1], "writers to reach two thirds during the outage")
	if n := s.Pending(); n == 0 {
		t.Fatal("no writes were queued during the outage")
	}
	t.Logf("%d guilds have queued writes during the outage", s.Pending())
	rp.start()
	close(phase[1])
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	// Read back through a fresh node: everything is in Redis, nothing only in memory.
	fresh := mustOpen(t, Config{RedisURL: fmt.Sprintf("redis://127.0.0.1:%d/0", rp.port), Path: filepath.Join(t.TempDir(), "q2.db"), KeyPrefix: "rr:"})
	all, err := fresh.Snapshots.List(ctx)
	if err != nil || len(all) != guilds {
		t.Fatalf("List after restart: %d snapshots, %v; want %d", len(all), err, guilds)
	}
	for _, p := range all {
		if p.Position != perGuild*time.Millisecond || len(p.Queue) != 1 || p.Queue[0].ID != fmt.Sprint("next-", perGuild-1) {
			t.Errorf("%s: counter %v queue %v; want %v and the last write", p.GuildID, p.Position, p.Queue, perGuild*time.Millisecond)
		}
	}
	if got := done.Load(); got != guilds*perGuild {
		t.Fatalf("%d updates acknowledged, want %d", got, guilds*perGuild)
	}
	// Only a write in flight at the kill can find Redis ahead of this node's
	// copy (it may have landed without an answer): at most one per guild.
	resynced, conflicts := counterValue(t, s.metrics.resynced), counterValue(t, s.metrics.resyncConfl)
	t.Logf("written back after the outage: %v; of which found a different version: %v", resynced, conflicts)
	if resynced < guilds || conflicts > guilds {
		t.Fatalf("resynced %v (want >= %d), conflicts %v (want <= %d)", resynced, guilds, conflicts, guilds)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// tcpProxy forwards to a backend and can be cut and restored, to take a
// server away from the store without touching the server.
type tcpProxy struct {
	target string
	addr   string
	hang   atomic.Bool // accept connections but forward nothing (a partition)
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.hang.Load() {
				p.mu.Lock()
				p.conns[c] = true // held open, silent, until cut
				p.mu.Unlock()
				continue
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer p.wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
}

// cut closes the listener and every connection, and waits for the proxy's goroutines.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *tcpProxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestPostgresOutage: with PostgreSQL cut off, operations fail fast with
// ErrUnavailable (a temporary error) and work again, with the data intact,
// once it is back — without reopening the store.
func TestPostgresOutage(t *testing.T) {
	base := pgURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	s := mustOpen(t, Config{PostgresURL: u.String(), OpTimeout: 3 * time.Second})
	ctx := ctxT(t)
	g := gid(t, 1)
	want := GuildSettings{GuildID: g, DefaultVolume: 55, VoteSkipRatio: 0.6, AutoLeaveMinutes: 7}
	if err := s.Settings.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshots.Put(ctx, sampleSnapshot(g), 0); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	start := time.Now()
	_, err = s.Settings.Get(ctx, g)
	wantErr(t, err, ErrUnavailable, g)
	_, err = s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error { p.Volume = 1; return nil })
	wantErr(t, err, ErrUnavailable, g)
	if err := s.History.Add(ctx, HistoryEntry{GuildID: g, PlayedAt: time.Now()}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("History.Add during outage = %v", err)
	}
	if _, err := s.Leases.Acquire(ctx, g, "n1", time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Leases.Acquire during outage = %v", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("outage errors took %v; they must come back promptly", el)
	}
	proxy.restore(t)
	var got GuildSettings
	waitFor(t, 20*time.Second, "postgres to be usable again", func() bool {
		got, err = s.Settings.Get(ctx, g)
		return err == nil
	})
	if got != want {
		t.Fatalf("settings after recovery = %+v, want %+v", got, want)
	}
	snap, err := s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error { p.Volume = 1; return nil })
	if err != nil || snap.Version != 2 || len(snap.Queue) != 2 {
		t.Fatalf("Update after recovery = v%d queue %d, %v", snap.Version, len(snap.Queue), err)
	}

	// A partition: connections are accepted and then nothing answers. The
	// store gives up after OpTimeout with the same temporary error.
	proxy.cut()
	proxy.hang.Store(true)
	proxy.restore(t)
	for i := range 2 { // the first may fail on a pooled connection the cut closed; later ones dial into the void
		start = time.Now()
		_, err = s.Settings.Get(ctx, g)
		wantErr(t, err, ErrUnavailable, g)
		el := time.Since(start)
		if el > 15*time.Second {
			t.Fatalf("partitioned Get took %v; OpTimeout is 3s", el)
		}
		t.Logf("partitioned Get %d failed after %v: %v", i, el.Round(time.Millisecond), err)
	}
	proxy.cut()
	proxy.hang.Store(false)
	proxy.restore(t)
	waitFor(t, 20*time.Second, "postgres after the partition", func() bool {
		got, err = s.Settings.Get(ctx, g)
		return err == nil && got == want
	})
}

// TestMigrateConcurrently: five nodes opening one fresh database at once
// apply the migrations exactly once between them.
func TestMigrateConcurrently(t *testing.T) {
	base := testenv.PostgresURL(t)
	db, err := createDatabase(t, base, "quaver_test_"+runID+"_mig")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %d, %v", len(ms), err)
	}
	const nodes = 5
	applied := make([]int, nodes)
	stores := make([]*Store, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = Open(context.Background(), Config{PostgresURL: db})
			if errs[i] == nil {
				applied[i] = stores[i].Info().MigrationsApplied
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("node %d Open: %v", i, errs[i])
		}
		defer s.Close()
	}
	runs, total := 0, 0
	for _, n := range applied {
		total += n
		if n > 0 {
			runs++
		}
	}
	if runs != 1 || total != len(ms) {
		t.Fatalf("migrations applied per node %v: want one node applying all %d", applied, len(ms))
	}
	rows, err := stores[0].snaps.eng.(*pgBackend).pool.Query(context.Background(),
		"SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d_%s", v, name))
	}
	rows.Close()
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprintf("%d_%s", m.version, m.name))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("schema_migrations = %v, want %v", got, want)
	}
	// Every node works on the migrated schema.
	for i, s := range stores {
		if _, err := s.Snapshots.Put(context.Background(), sampleSnapshot(fmt.Sprint("mig-", i)), 0); err != nil {
			t.Fatalf("node %d after migration: %v", i, err)
		}
	}
}

// TestRedisOutageLimits: during an outage the queue is bounded (an extra
// guild's write is refused with ErrUnavailable, not dropped), rate limiting
// falls back to the node, leases refuse (no ownership without Redis), and the
// cache degrades to its L1.
func TestRedisOutageLimits(t *testing.T) {
	bin := testenv.Tool(t, "redis-server")
	rp := &redisProcess{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	rp.start()
	t.Cleanup(rp.kill)
	s := mustOpen(t, Config{RedisURL: fmt.Sprintf("redis://127.0.0.1:%d/0", rp.port), Path: filepath.Join(t.TempDir(), "q.db"),
		RetryInterval: 50 * time.Millisecond, OpTimeout: 2 * time.Second, PendingWrites: 2})
	ctx := ctxT(t)
	for _, g := range []string{"a", "b", "c"} {
		if _, err := s.Snapshots.Put(ctx, sampleSnapshot(g), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.TrackCache.Set(ctx, "q", []Track{{ID: "t"}}, time.Minute)
	rp.kill()
	bump := func(g string) error {
		_, err := s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error { p.Volume++; return nil })
		return err
	}
	if err := bump("a"); err != nil {
		t.Fatalf("queued write a: %v", err)
	}
	if err := bump("b"); err != nil {
		t.Fatalf("queued write b: %v", err)
	}
	wantErr(t, bump("c"), ErrUnavailable, "c")
	if err := bump("a"); err != nil { // a guild already queued keeps accepting (newest wins)
		t.Fatalf("second queued write a: %v", err)
	}
	if _, err := s.Snapshots.Get(ctx, "zzz-never-seen"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get of an unknown guild during the outage = %v, want ErrUnavailable", err)
	}
	if d, err := s.RateLimiter.Allow(ctx, "user-1", PerSecond(1), 1); err != nil || !d.Allowed {
		t.Fatalf("rate limit during outage = %+v, %v; want a local decision", d, err)
	}
	if _, err := s.Leases.Acquire(ctx, "guild-a", "n1", time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Acquire during outage = %v, want ErrUnavailable", err)
	}
	if got, ok := s.TrackCache.Get(ctx, "q"); !ok || got[0].ID != "t" {
		t.Fatal("L1 cache lost during the Redis outage")
	}
	rp.start()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	for g, vol := range map[string]int{"a": 152, "b": 151, "c": 150} {
		p, err := s.Snapshots.Get(ctx, g)
		if err != nil || p.Volume != vol {
			t.Fatalf("%s after recovery: volume %d, %v; want %d", g, p.Volume, err, vol)
		}
	}
	if err := bump("c"); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
}
