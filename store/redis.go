package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// The Redis backend keeps the hot, shared state: player snapshots with their
// cheap position checkpoints, GCRA rate limits, the track cache's L2 and the
// cluster's ownership leases. Keys (all under Config.KeyPrefix):
//
//	snap:<guild>         hash {v: version, d: snapshot JSON, p: checkpoint ns}
//	guilds               set of guilds with a snapshot (for List)
//	rl:<key>             GCRA theoretical arrival time, µs (expires when idle)
//	tc:<key>             cached track list JSON (expires)
//	lease:<key>          "<token>|<owner>" with PX expiry
//	lease_token:<key>    fencing counter, never expires
//
// Every multi-step change is one Lua script, so it is atomic on the server.

type redisBackend struct {
	c      *redis.Client
	cfg    Config
	m      *metrics
	log    *slog.Logger
	local  *localLimiter
	prefix string
	snaps  *redisSnapshots
	// unavailable counts calls that found the server unreachable.
	unavailable prometheus.Counter
	// down is set on a connectivity failure and cleared when a probe
	// succeeds; while set, callers are answered locally instead of waiting
	// for timeouts against an unreachable server.
	down atomic.Bool

	stop chan struct{}
	wg   sync.WaitGroup
}

func openRedis(ctx context.Context, cfg Config, m *metrics, local *localLimiter) (*redisBackend, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("store: redis url: %w", err)
	}
	opt.MaxRetries = -1 // the store decides what to retry: a replayed CAS is not idempotent
	opt.DialTimeout = min(cfg.OpTimeout, 2*time.Second)
	opt.DialerRetries = 1 // an outage is handled by queueing, not by stalling callers in dial back-off
	opt.ReadTimeout, opt.WriteTimeout = cfg.OpTimeout, cfg.OpTimeout
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	r := &redisBackend{c: c, cfg: cfg, m: m, unavailable: m.unavailableCounter(backendRedis), log: cfg.Logger, local: local, prefix: cfg.KeyPrefix, stop: make(chan struct{})}
	pctx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, unavailable("redis", err)
	}
	r.snaps = newRedisSnapshots(r)
	r.wg.Add(1)
	go r.snaps.resyncLoop()
	return r, nil
}

func (r *redisBackend) close() error {
	close(r.stop)
	r.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.OpTimeout)
	defer cancel()
	if n := r.snaps.pendingLen(); n > 0 {
		if err := r.c.Ping(ctx).Err(); err == nil {
			r.snaps.flush(ctx)
		}
		if lost := r.snaps.pendingGuilds(); len(lost) > 0 {
			r.log.Error("store: closing with snapshot writes Redis never received", "guilds", lost)
		}
	}
	return r.c.Close()
}

func (r *redisBackend) key(parts ...string) string {
	return r.prefix + strings.Join(parts, "")
}

// transient reports whether err means Redis cannot serve right now (network
// failure, or a server still loading its data / not writable), as opposed to a
// reply the caller must see. The caller's own cancellation is not transient.
func (r *redisBackend) transient(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil {
		return false
	}
	if isOwnError(err) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

func (r *redisBackend) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.OpTimeout)
}

// --- rate limiter: GCRA on the server clock, so every node agrees ---

// gcraScript mirrors gcra.Step in microseconds. KEYS[1] = rl key;
// ARGV = interval µs, burst. Returns {allowed, retry_after µs, remaining}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local newtat = tat + interval
local allow_at = newtat - burst * interval
if now < allow_at then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], string.format('%.0f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)
return {1, 0, math.floor((now - allow_at) / interval)}
`)

func (r *redisBackend) Allow(ctx context.Context, key string, rate Rate, burst int) (Decision, error) {
	if err := checkID("rate limit key", key); err != nil {
		return Decision{}, err
	}
	iv, err := rate.interval()
	if err != nil {
		return Decision{}, err
	}
	if r.down.Load() {
		r.m.rlFallback.Inc()
		return r.local.Allow(ctx, key, rate, burst)
	}
	ivUS := max(iv.Microseconds(), 1)
	octx, cancel := r.op(ctx)
	defer cancel()
	res, err := gcraScript.Run(octx, r.c, []string{r.key("rl:", key)}, ivUS, max(burst, 1)).Int64Slice()
	if err == nil && len(res) == 3 {
		return Decision{Allowed: res[0] == 1, RetryAfter: time.Duration(res[1]) * time.Microsecond, Remaining: int(res[2])}, nil
	}
	if err == nil {
		err = fmt.Errorf("gcra script returned %d values", len(res))
	}
	if !r.transient(ctx, err) {
		return Decision{}, fmt.Errorf("store: redis rate limit: %w", err)
	}
	// Redis is away: decide in-process (not shared with other nodes) rather
	// than block every command; counted so the gap is visible.
	r.snaps.markDown(err)
	r.m.rlFallback.Inc()
	return r.local.Allow(ctx, key, rate, burst)
}

// --- track cache L2 ---

func (r *redisBackend) cacheKey(key string) string {
	if len(key) > 200 {
		sum := sha256.Sum256([]byte(key))
		key = "h:" + hex.EncodeToString(sum[:])
	}
	return r.key("tc:", key)
}

func (r *redisBackend) cacheGet(ctx context.Context, key string) ([]Track, bool) {
	if r.down.Load() {
		return nil, false
	}
	octx, cancel := r.op(ctx)
	defer cancel()
	b, err := r.c.Get(octx, r.cacheKey(key)).Bytes()
	if err != nil {
		if r.transient(ctx, err) {
			r.snaps.markDown(err)
		}
		return nil, false
	}
	if len(b) > r.cfg.Limits.MaxCachedTracks*8192 {
		return nil, false
	}
	var ts []Track
	if err := json.Unmarshal(b, &ts); err != nil || len(ts) > r.cfg.Limits.MaxCachedTracks {
		r.log.Warn("store: dropping corrupt track cache entry", "key", key, "err", err)
		return nil, false
	}
	return ts, true
}

func (r *redisBackend) cacheSet(ctx context.Context, key string, tracks []Track, ttl time.Duration) {
	if r.down.Load() {
		return
	}
	b, err := json.Marshal(tracks)
	if err != nil {
		return
	}
	octx, cancel := r.op(ctx)
	defer cancel()
	if err := r.c.Set(octx, r.cacheKey(key), b, ttl).Err(); err != nil && r.transient(ctx, err) {
		r.snaps.markDown(err)
	}
}

// --- leases: SET NX PX, fencing token from a per-key counter ---

// acquireScript: KEYS = lease, token counter; ARGV = owner, ttl ms.
// Returns {1, token} when acquired (or renewed by the same owner), {0, owner} when held.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local owner = string.sub(cur, sep + 1)
  if owner ~= ARGV[1] then return {0, owner} end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(string.sub(cur, 1, sep - 1))}
end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], tok .. '|' .. ARGV[1], 'NX', 'PX', ARGV[2])
return {1, tok}
`)

// renewScript: KEYS = lease; ARGV = "<token>|<owner>", ttl ms (0: release).
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

func (r *redisBackend) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(key, owner, ttl); err != nil {
		return Lease{}, err
	}
	if r.down.Load() {
		return Lease{}, unavailable("redis", errors.New("unreachable (reconnecting)"))
	}
	start := time.Now()
	octx, cancel := r.op(ctx)
	defer cancel()
	res, err := acquireScript.Run(octx, r.c, []string{r.key("lease:", key), r.key("lease_token:", key)},
		owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return Lease{}, r.wrap(ctx, err)
	}
	if len(res) != 2 {
		return Lease{}, fmt.Errorf("store: redis lease script returned %d values", len(res))
	}
	if ok, _ := res[0].(int64); ok != 1 {
		return Lease{}, fmt.Errorf("%w: %q held by %v", ErrLeaseHeld, key, res[1])
	}
	tok, _ := res[1].(int64)
	// Expires is measured from before the call, so it errs on the early side.
	return Lease{Key: key, Owner: owner, Token: tok, Expires: start.Add(ttl)}, nil
}

func (r *redisBackend) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(l.Key, l.Owner, ttl); err != nil {
		return Lease{}, err
	}
	if r.down.Load() {
		return Lease{}, unavailable("redis", errors.New("unreachable (reconnecting)"))
	}
	start := time.Now()
	octx, cancel := r.op(ctx)
	defer cancel()
	n, err := renewScript.Run(octx, r.c, []string{r.key("lease:", l.Key)},
		strconv.FormatInt(l.Token, 10)+"|"+l.Owner, ttl.Milliseconds()).Int64()
	if err != nil {
		return Lease{}, r.wrap(ctx, err)
	}
	if n != 1 {
		return Lease{}, fmt.Errorf("%w: %q token %d", ErrLeaseLost, l.Key, l.Token)
	}
	l.Expires = start.Add(ttl)
	return l, nil
}

func (r *redisBackend) Release(ctx context.Context, l Lease) error {
	octx, cancel := r.op(ctx)
	defer cancel()
	err := renewScript.Run(octx, r.c, []string{r.key("lease:", l.Key)},
		strconv.FormatInt(l.Token, 10)+"|"+l.Owner, 0).Err()
	return r.wrap(ctx, err)
}

func (r *redisBackend) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if r.transient(ctx, err) {
		r.snaps.markDown(err)
		return unavailable("redis", err)
	}
	return fmt.Errorf("store: redis: %w", err)
}
