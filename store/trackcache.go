package store

import (
	"context"
	"time"

	"github.com/quaverbot/quaver/store/lru"
)

// cacheTier is a shared second tier (Redis) of the track cache.
type cacheTier interface {
	cacheGet(ctx context.Context, key string) ([]Track, bool)
	cacheSet(ctx context.Context, key string, tracks []Track, ttl time.Duration)
}

// trackCache is two-tier: an in-process LRU with TTL in front of an optional
// shared tier. An L2 hit fills L1.
type trackCache struct {
	l1  *lru.Cache[string, []Track]
	l2  cacheTier
	ttl time.Duration
	max int
	m   *metrics
}

func newTrackCache(cfg Config, l2 cacheTier, m *metrics) *trackCache {
	return &trackCache{l1: lru.New[string, []Track](cfg.TrackCacheSize), l2: l2, ttl: cfg.TrackCacheTTL,
		max: cfg.Limits.MaxCachedTracks, m: m}
}

func (c *trackCache) Get(ctx context.Context, key string) ([]Track, bool) {
	c.m.cacheRequests.Add(1)
	if v, ok := c.l1.Get(key, time.Now()); ok {
		c.m.cacheHits.Add(1)
		c.m.cacheLookups.WithLabelValues("l1", "hit").Inc()
		return cloneTracks(v), true
	}
	c.m.cacheLookups.WithLabelValues("l1", "miss").Inc()
	if c.l2 == nil {
		return nil, false
	}
	v, ok := c.l2.cacheGet(ctx, key)
	if !ok {
		c.m.cacheLookups.WithLabelValues("l2", "miss").Inc()
		return nil, false
	}
	c.m.cacheHits.Add(1)
	c.m.cacheLookups.WithLabelValues("l2", "hit").Inc()
	c.l1.Add(key, v, time.Now().Add(c.ttl))
	return cloneTracks(v), true
}

func (c *trackCache) Set(ctx context.Context, key string, tracks []Track, ttl time.Duration) {
	if key == "" || len(tracks) > c.max {
		return
	}
	if ttl <= 0 {
		ttl = c.ttl
	}
	v := cloneTracks(tracks)
	c.l1.Add(key, v, time.Now().Add(min(ttl, c.ttl)))
	if c.l2 != nil {
		c.l2.cacheSet(ctx, key, v, ttl)
	}
}

func (c *trackCache) HitRatio() float64 { return c.m.hitRatio() }

// cloneTracks keeps callers from mutating cached slices.
func cloneTracks(ts []Track) []Track {
	if ts == nil {
		return nil
	}
	return append([]Track(nil), ts...)
}
