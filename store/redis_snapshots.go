package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/quaverbot/quaver/store/lru"
	"github.com/redis/go-redis/v9"
)

// redisSnapshots is the Redis snapshot engine with outage handling.
//
// While Redis is unreachable, writes are queued in memory instead of failing:
// one pending entry per guild (newest wins, since a snapshot is a whole
// state), at most Config.PendingWrites guilds (beyond that the caller gets
// ErrUnavailable: refused, never dropped). Versions keep working against the
// last state this node saw (the known LRU), so Update and Put behave as usual.
// A background loop probes Redis every RetryInterval and writes the queue
// back; if another writer changed a guild meanwhile, the queued state wins
// (the player that owns the guild holds the truth) and the conflict is
// logged and counted.
type redisSnapshots struct {
	r *redisBackend

	mu      sync.Mutex
	pending map[string]*pendingWrite
	idle    chan struct{} // closed while nothing is pending; Sync waits on it
	known   *lru.Cache[string, rawSnap]
}

type pendingWrite struct {
	base    int64 // the Redis version the queued writes build on
	snap    rawSnap
	posOnly bool // only a checkpoint: never overwrite data on resync
}

func newRedisSnapshots(r *redisBackend) *redisSnapshots {
	idle := make(chan struct{})
	close(idle)
	return &redisSnapshots{r: r, pending: make(map[string]*pendingWrite), idle: idle,
		known: lru.New[string, rawSnap](r.cfg.OutageCopies)}
}

func (s *redisSnapshots) hashKey(guildID string) string { return s.r.key("snap:", guildID) }
func (s *redisSnapshots) setKey() string                { return s.r.key("guilds") }

// casScript: KEYS = snapshot hash, guild set; ARGV = base version, new
// version, data, guild id, force. Without force it is a compare-and-set on
// the version; with force (resync) a mismatch is overwritten with a version
// above both. Returns {ok, version, conflicted}.
var casScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local base = tonumber(ARGV[1])
local newv = tonumber(ARGV[2])
local conflict = 0
if cur ~= base then
  if ARGV[5] ~= '1' then return {0, cur, 1} end
  conflict = 1
  if cur + 1 > newv then newv = cur + 1 end
end
redis.call('HSET', KEYS[1], 'v', string.format('%.0f', newv), 'd', ARGV[3])
redis.call('HDEL', KEYS[1], 'p')
redis.call('SADD', KEYS[2], ARGV[4])
return {1, newv, conflict}
`)

// checkpointScript: KEYS = snapshot hash; ARGV = position ns. 0 when absent.
var checkpointScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[1])
return 1
`)

var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`)

func (s *redisSnapshots) markDown(err error) {
	was := s.r.down.Swap(true)
	s.r.unavailable.Inc()
	if !was {
		s.r.log.Warn("store: Redis unreachable, queueing snapshot writes in memory", "err", err)
	}
}

func (s *redisSnapshots) load(ctx context.Context, guildID string) (rawSnap, error) {
	s.mu.Lock()
	if p, ok := s.pending[guildID]; ok {
		r := p.snap
		s.mu.Unlock()
		return r, nil
	}
	down := s.r.down.Load()
	s.mu.Unlock()
	if !down {
		r, err := s.loadRedis(ctx, guildID)
		switch {
		case err == nil:
			s.known.Add(guildID, r, time.Time{})
			return r, nil
		case errors.Is(err, ErrNotFound):
			s.known.Add(guildID, rawSnap{}, time.Time{})
			return r, err
		case !s.r.transient(ctx, err):
			return r, err
		}
		s.markDown(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pending[guildID]; ok {
		return p.snap, nil
	}
	if k, ok := s.known.Get(guildID, time.Time{}); ok {
		if k.data == nil {
			return rawSnap{}, ErrNotFound
		}
		return k, nil
	}
	return rawSnap{}, unavailable("redis", errors.New("unreachable and this node has no copy of the guild's snapshot"))
}

// loadScript: KEYS = snapshot hash; ARGV = byte limit. Returns nil when
// absent, else {version, data or nil when over the limit, checkpoint, length},
// so an oversized record is refused on the server, before it is transferred.
var loadScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return false end
local n = redis.call('HSTRLEN', KEYS[1], 'd')
if n > tonumber(ARGV[1]) then return {v, false, false, n} end
local f = redis.call('HMGET', KEYS[1], 'd', 'p')
return {v, f[1], f[2], n}
`)

func (s *redisSnapshots) loadRedis(ctx context.Context, guildID string) (rawSnap, error) {
	octx, cancel := s.r.op(ctx)
	defer cancel()
	limit := s.r.cfg.Limits.MaxSnapshotBytes
	vals, err := loadScript.Run(octx, s.r.c, []string{s.hashKey(guildID)}, limit).Slice()
	if errors.Is(err, redis.Nil) {
		return rawSnap{}, ErrNotFound
	}
	if err != nil {
		return rawSnap{}, err
	}
	if len(vals) < 4 {
		return rawSnap{}, fmt.Errorf("%w: load script returned %d values", ErrCorrupt, len(vals))
	}
	var r rawSnap
	vs, _ := vals[0].(string)
	if r.version, err = strconv.ParseInt(vs, 10, 64); err != nil {
		return rawSnap{}, fmt.Errorf("%w: version field %q", ErrCorrupt, vs)
	}
	if n, _ := vals[3].(int64); n > int64(limit) {
		return rawSnap{}, fmt.Errorf("%w: stored snapshot is %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	ds, _ := vals[1].(string)
	r.data = []byte(ds)
	if ps, ok := vals[2].(string); ok {
		if p, err := strconv.ParseInt(ps, 10, 64); err == nil && p >= 0 {
			r.pos, r.hasPos = time.Duration(p), true
		}
	}
	return r, nil
}

func (s *redisSnapshots) cas(ctx context.Context, guildID string, data []byte, expect int64) error {
	s.mu.Lock()
	if _, ok := s.pending[guildID]; ok || s.r.down.Load() {
		defer s.mu.Unlock()
		return s.queueLocked(guildID, data, expect)
	}
	s.mu.Unlock()
	v, _, err := s.casRedis(ctx, guildID, data, expect, expect+1, false)
	if err == nil {
		s.known.Add(guildID, rawSnap{data: data, version: v}, time.Time{})
		return nil
	}
	if !s.r.transient(ctx, err) {
		return err
	}
	// The write may or may not have reached Redis; queue it on the last known
	// state and let resync settle it (a forced write of the same state).
	s.markDown(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queueLocked(guildID, data, expect)
}

// casRedis runs casScript; it returns the version written and whether a
// forced write overwrote a different version.
func (s *redisSnapshots) casRedis(ctx context.Context, guildID string, data []byte, base, newVersion int64, force bool) (int64, bool, error) {
	octx, cancel := s.r.op(ctx)
	defer cancel()
	f := "0"
	if force {
		f = "1"
	}
	res, err := casScript.Run(octx, s.r.c, []string{s.hashKey(guildID), s.setKey()}, base, newVersion, data, guildID, f).Int64Slice()
	if err != nil {
		return 0, false, err
	}
	if len(res) != 3 {
		return 0, false, fmt.Errorf("store: redis cas script returned %d values", len(res))
	}
	if res[0] != 1 {
		return 0, false, fmt.Errorf("%w: stored version %d, expected %d", ErrVersionConflict, res[1], base)
	}
	return res[1], res[2] == 1, nil
}

// current returns the state writes must build on during an outage.
func (s *redisSnapshots) currentLocked(guildID string) (snap rawSnap, base int64, err error) {
	if p, ok := s.pending[guildID]; ok {
		return p.snap, p.base, nil
	}
	if k, ok := s.known.Get(guildID, time.Time{}); ok {
		return k, k.version, nil
	}
	return rawSnap{}, 0, unavailable("redis", errors.New("unreachable and this node has no copy of the guild's snapshot"))
}

func (s *redisSnapshots) queueLocked(guildID string, data []byte, expect int64) error {
	cur, base, err := s.currentLocked(guildID)
	if err != nil {
		return err
	}
	if cur.version != expect {
		return fmt.Errorf("%w: stored version %d, expected %d", ErrVersionConflict, cur.version, expect)
	}
	return s.setPendingLocked(guildID, &pendingWrite{base: base, snap: rawSnap{data: data, version: expect + 1}})
}

func (s *redisSnapshots) setPendingLocked(guildID string, p *pendingWrite) error {
	if _, ok := s.pending[guildID]; !ok {
		if len(s.pending) >= s.r.cfg.PendingWrites {
			return unavailable("redis", fmt.Errorf("unreachable and %d guilds' writes already queued", len(s.pending)))
		}
		if len(s.pending) == 0 {
			s.idle = make(chan struct{})
		}
	}
	s.pending[guildID] = p
	s.r.m.pending.Store(int64(len(s.pending)))
	return nil
}

func (s *redisSnapshots) checkpoint(ctx context.Context, guildID string, pos time.Duration) error {
	s.mu.Lock()
	if _, ok := s.pending[guildID]; ok || s.r.down.Load() {
		defer s.mu.Unlock()
		return s.queueCheckpointLocked(guildID, pos)
	}
	s.mu.Unlock()
	err := s.checkpointRedis(ctx, guildID, pos)
	if err == nil {
		if k, ok := s.known.Get(guildID, time.Time{}); ok && k.data != nil {
			k.pos, k.hasPos = pos, true
			s.known.Add(guildID, k, time.Time{})
		}
		return nil
	}
	if !s.r.transient(ctx, err) {
		return err
	}
	s.markDown(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queueCheckpointLocked(guildID, pos)
}

func (s *redisSnapshots) checkpointRedis(ctx context.Context, guildID string, pos time.Duration) error {
	octx, cancel := s.r.op(ctx)
	defer cancel()
	n, err := checkpointScript.Run(octx, s.r.c, []string{s.hashKey(guildID)}, int64(pos)).Int64()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *redisSnapshots) queueCheckpointLocked(guildID string, pos time.Duration) error {
	cur, base, err := s.currentLocked(guildID)
	if err != nil {
		return err
	}
	if cur.data == nil {
		return ErrNotFound
	}
	p := &pendingWrite{base: base, snap: cur, posOnly: true}
	if old, ok := s.pending[guildID]; ok {
		p.posOnly = old.posOnly
	}
	p.snap.pos, p.snap.hasPos = pos, true
	return s.setPendingLocked(guildID, p)
}

func (s *redisSnapshots) guilds(ctx context.Context) ([]string, error) {
	octx, cancel := s.r.op(ctx)
	defer cancel()
	ids, err := s.r.c.SMembers(octx, s.setKey()).Result()
	if err != nil {
		return nil, s.r.wrap(ctx, err)
	}
	s.mu.Lock()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	for id := range s.pending {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	return ids, nil
}

func (s *redisSnapshots) remove(ctx context.Context, guildID string) error {
	octx, cancel := s.r.op(ctx)
	defer cancel()
	err := deleteScript.Run(octx, s.r.c, []string{s.hashKey(guildID), s.setKey()}, guildID).Err()
	if err != nil {
		return s.r.wrap(ctx, err)
	}
	s.mu.Lock()
	if _, ok := s.pending[guildID]; ok {
		delete(s.pending, guildID)
		s.afterRemoveLocked()
	}
	s.known.Add(guildID, rawSnap{}, time.Time{})
	s.mu.Unlock()
	return nil
}

func (s *redisSnapshots) afterRemoveLocked() {
	s.r.m.pending.Store(int64(len(s.pending)))
	if len(s.pending) == 0 {
		close(s.idle)
	}
}

// resyncLoop probes a lost Redis and writes the queue back. Owned by the
// backend: started in openRedis, stopped by close.
func (s *redisSnapshots) resyncLoop() {
	defer s.r.wg.Done()
	t := time.NewTicker(s.r.cfg.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.r.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		need := s.r.down.Load() || len(s.pending) > 0
		s.mu.Unlock()
		if !need {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.OpTimeout)
		if err := s.r.c.Ping(ctx).Err(); err == nil {
			if s.r.down.Swap(false) {
				s.r.log.Info("store: Redis reachable again, writing back queued snapshots", "guilds", s.pendingLen())
			}
			s.flush(ctx)
		}
		cancel()
	}
}

// flush writes every queued entry back, stopping at the first sign that
// Redis went away again.
func (s *redisSnapshots) flush(ctx context.Context) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.mu.Lock()
		p, ok := s.pending[id]
		s.mu.Unlock()
		if !ok {
			continue
		}
		final, err := s.writeBack(ctx, id, p)
		if err != nil && s.r.transient(ctx, err) {
			s.markDown(err)
			return
		}
		if err != nil {
			// Not a connectivity problem: it will not get better by retrying.
			s.r.log.Error("store: queued snapshot write could not be written back", "guild", id, "err", err)
		}
		s.mu.Lock()
		if q := s.pending[id]; q == p { // not replaced by a newer write meanwhile
			delete(s.pending, id)
			if err == nil {
				s.known.Add(id, final, time.Time{})
			} else {
				s.known.Remove(id)
			}
			s.afterRemoveLocked()
		} else if q != nil && err == nil && q.base == p.base {
			// A newer write built on p while it was being written: it now
			// builds on what Redis holds, so its own write-back is a plain
			// compare-and-set, not a conflict.
			nq := *q
			nq.base = final.version
			s.pending[id] = &nq
		}
		s.mu.Unlock()
		if err == nil {
			s.r.m.resynced.Inc()
		}
	}
}

func (s *redisSnapshots) writeBack(ctx context.Context, guildID string, p *pendingWrite) (rawSnap, error) {
	final := p.snap
	if !p.posOnly {
		v, conflicted, err := s.casRedis(ctx, guildID, p.snap.data, p.base, p.snap.version, true)
		if err != nil {
			return final, err
		}
		if conflicted {
			s.r.m.resyncConfl.Inc()
			s.r.log.Warn("store: snapshot changed in Redis during the outage; this node's newer state replaced it",
				"guild", guildID, "base_version", p.base, "written_version", v)
		}
		final.version = v
	}
	if p.snap.hasPos {
		if err := s.checkpointRedis(ctx, guildID, p.snap.pos); err != nil && !errors.Is(err, ErrNotFound) {
			return final, err
		}
	}
	return final, nil
}

// sync waits until nothing is queued.
func (s *redisSnapshots) sync(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: %d guilds' snapshot writes still queued: %w", s.pendingLen(), ctx.Err())
	}
}

func (s *redisSnapshots) pendingLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func (s *redisSnapshots) pendingGuilds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
