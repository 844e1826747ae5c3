package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshots keeps one PlayerSnapshot per guild with optimistic versioning:
// every successful write bumps Version by one, and a write that expected an
// older version fails with ErrVersionConflict instead of losing an update.
type Snapshots interface {
	// Get returns the guild's snapshot, ErrNotFound when it has none.
	Get(ctx context.Context, guildID string) (PlayerSnapshot, error)
	// Put writes snap for snap.GuildID if the stored version equals
	// expectVersion (0: none stored yet) and returns the new version
	// (expectVersion+1). Schema and UpdatedAt are set by Put.
	Put(ctx context.Context, snap PlayerSnapshot, expectVersion int64) (int64, error)
	// Update reads the guild's snapshot (a fresh one when none exists), lets
	// fn change it and writes it back, retrying from the read on a version
	// conflict. fn may run several times; an error from fn aborts the update.
	Update(ctx context.Context, guildID string, fn func(*PlayerSnapshot) error) (PlayerSnapshot, error)
	// Checkpoint records the playback position cheaply (no version bump, no
	// rewrite of the queue). The next Put supersedes it. ErrNotFound when the
	// guild has no snapshot.
	Checkpoint(ctx context.Context, guildID string, position time.Duration) error
	// List returns every stored snapshot, for resuming after a restart. A
	// snapshot that cannot be read is left out and reported in the returned
	// error (one *GuildError per bad guild) alongside the good ones.
	List(ctx context.Context) ([]PlayerSnapshot, error)
	// Delete removes the guild's snapshot; deleting a missing one is not an error.
	Delete(ctx context.Context, guildID string) error
}

// Settings keeps GuildSettings.
type Settings interface {
	// Get returns the guild's settings, DefaultGuildSettings when none are stored.
	Get(ctx context.Context, guildID string) (GuildSettings, error)
	// Put validates and stores s (ErrInvalid for out-of-range values).
	Put(ctx context.Context, s GuildSettings) error
}

// Entitlements mirrors Discord App Subscriptions entitlements.
type Entitlements interface {
	// Upsert stores e as Discord last described it (create, update or delete events).
	Upsert(ctx context.Context, e Entitlement) error
	// Get returns one entitlement by id, ErrNotFound when unknown.
	Get(ctx context.Context, id string) (Entitlement, error)
	// Active returns the non-deleted entitlements of guildID or userID (either
	// may be empty) whose [StartsAt, EndsAt) window contains at, ordered by id.
	Active(ctx context.Context, guildID, userID string, at time.Time) ([]Entitlement, error)
}

// History records plays per guild, keeping the newest Limits.HistoryPerGuild.
type History interface {
	// Add appends one play.
	Add(ctx context.Context, e HistoryEntry) error
	// Recent returns up to limit entries, newest first.
	Recent(ctx context.Context, guildID string, limit int) ([]HistoryEntry, error)
}

// Playlists keeps users' saved playlists, unique by (OwnerID, Name).
type Playlists interface {
	// Save creates or replaces the playlist.
	Save(ctx context.Context, p Playlist) error
	// Get returns one playlist, ErrNotFound when absent.
	Get(ctx context.Context, ownerID, name string) (Playlist, error)
	// Names lists the owner's playlist names in ascending order.
	Names(ctx context.Context, ownerID string) ([]string, error)
	// Delete removes a playlist; deleting a missing one is not an error.
	Delete(ctx context.Context, ownerID, name string) error
}

// Rate is Events allowed per Per on average.
type Rate struct {
	Events int
	Per    time.Duration
}

// PerSecond and PerMinute build common rates.
func PerSecond(n int) Rate { return Rate{Events: n, Per: time.Second} }

// PerMinute returns a Rate of n events per minute.
func PerMinute(n int) Rate { return Rate{Events: n, Per: time.Minute} }

// interval is the GCRA emission interval (time per event).
func (r Rate) interval() (time.Duration, error) {
	if r.Events <= 0 || r.Per <= 0 {
		return 0, fmt.Errorf("%w: rate %d per %v", ErrInvalid, r.Events, r.Per)
	}
	iv := r.Per / time.Duration(r.Events)
	if iv <= 0 {
		iv = 1
	}
	return iv, nil
}

// Decision is a rate limiter's answer.
type Decision struct {
	// Allowed says whether the event may happen now (and was counted).
	Allowed bool
	// RetryAfter is how long until one more event would be allowed, when denied.
	RetryAfter time.Duration
	// Remaining is how many more events are allowed right now.
	Remaining int
}

// RateLimiter is a GCRA limiter keyed by string (user id, guild id, route).
type RateLimiter interface {
	// Allow counts one event for key against rate with the given burst and
	// says whether it is allowed.
	Allow(ctx context.Context, key string, rate Rate, burst int) (Decision, error)
}

// TrackCache caches track resolution results (query or URL → tracks).
// Cache failures never fail the caller: a broken tier is a miss.
type TrackCache interface {
	// Get returns the cached tracks for key.
	Get(ctx context.Context, key string) ([]Track, bool)
	// Set caches tracks for key for ttl (the configured default when ttl <= 0).
	Set(ctx context.Context, key string, tracks []Track, ttl time.Duration)
	// HitRatio is hits/lookups over the cache's lifetime (0 before any lookup).
	HitRatio() float64
}

// Lease is ownership of a key (a guild, for the cluster) until Expires. Token
// increases with every acquisition of the key, across owners and restarts, so
// a stale owner's writes can be fenced off by comparing tokens.
type Lease struct {
	Key     string
	Owner   string
	Token   int64
	Expires time.Time
}

// Leases hands out exclusive, expiring ownership with fencing tokens.
type Leases interface {
	// Acquire takes key for owner for ttl; ErrLeaseHeld when another owner
	// holds it. Acquiring a key one already holds renews it with the same token.
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error)
	// Renew extends a held lease; ErrLeaseLost when it expired or changed hands.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives the lease up; releasing a lost lease is not an error.
	Release(ctx context.Context, l Lease) error
}

// Limits bound what the store accepts and reads back, so a bad record is an
// error instead of an out-of-memory.
type Limits struct {
	// MaxSnapshotBytes bounds one encoded snapshot (default 4 MiB).
	MaxSnapshotBytes int
	// MaxQueueTracks bounds PlayerSnapshot.Queue (default 10,000).
	MaxQueueTracks int
	// MaxHistoryTracks bounds PlayerSnapshot.History (default 500).
	MaxHistoryTracks int
	// MaxPlaylistTracks bounds a saved playlist (default 5,000).
	MaxPlaylistTracks int
	// HistoryPerGuild is how many History entries are kept per guild (default 1,000).
	HistoryPerGuild int
	// MaxCachedTracks bounds one TrackCache entry (default 1,000).
	MaxCachedTracks int
}

// DefaultLimits returns the limits used when Config.Limits fields are zero.
func DefaultLimits() Limits {
	return Limits{MaxSnapshotBytes: 4 << 20, MaxQueueTracks: 10000, MaxHistoryTracks: 500,
		MaxPlaylistTracks: 5000, HistoryPerGuild: 1000, MaxCachedTracks: 1000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSnapshotBytes <= 0 {
		l.MaxSnapshotBytes = d.MaxSnapshotBytes
	}
	if l.MaxQueueTracks <= 0 {
		l.MaxQueueTracks = d.MaxQueueTracks
	}
	if l.MaxHistoryTracks <= 0 {
		l.MaxHistoryTracks = d.MaxHistoryTracks
	}
	if l.MaxPlaylistTracks <= 0 {
		l.MaxPlaylistTracks = d.MaxPlaylistTracks
	}
	if l.HistoryPerGuild <= 0 {
		l.HistoryPerGuild = d.HistoryPerGuild
	}
	if l.MaxCachedTracks <= 0 {
		l.MaxCachedTracks = d.MaxCachedTracks
	}
	return l
}

// Config picks and tunes the backends. With no URL everything lives in the
// embedded file at Path. RedisURL moves snapshots, rate limits, the track
// cache's L2 and leases to Redis; PostgresURL moves settings, entitlements,
// history and playlists (and snapshots and leases, when there is no Redis) to
// PostgreSQL. Reading QUAVER_REDIS_URL / QUAVER_POSTGRES_URL is the caller's job.
type Config struct {
	// Path is the embedded database file (default "quaver.db"); unused when
	// PostgresURL is set and nothing else needs it.
	Path string
	// RedisURL, e.g. redis://127.0.0.1:6379/0.
	RedisURL string
	// PostgresURL, e.g. postgres://user@host:5432/db?sslmode=disable.
	PostgresURL string
	// KeyPrefix namespaces every Redis key (default "quaver:").
	KeyPrefix string
	// Limits bound record sizes; zero fields take DefaultLimits.
	Limits Limits
	// TrackCacheSize and TrackCacheTTL tune the in-process L1 (default 10,000 entries, 1 h);
	// TrackCacheTTL is also the default L2 TTL.
	TrackCacheSize int
	TrackCacheTTL  time.Duration
	// PendingWrites bounds the guilds whose snapshot writes are queued in
	// memory during a Redis outage (default 10,000); beyond it writes fail
	// with ErrUnavailable rather than being dropped.
	PendingWrites int
	// OutageCopies is how many guilds' latest snapshots a Redis-backed node
	// keeps in memory so that it can go on updating them during an outage
	// (default 10,000; a guild without a copy gets ErrUnavailable).
	OutageCopies int
	// RetryInterval is how often a lost Redis is probed and queued writes
	// retried (default 500 ms).
	RetryInterval time.Duration
	// OpTimeout bounds one backend round trip that the caller's context does
	// not bound more tightly (default 5 s).
	OpTimeout time.Duration
	// UpdateRetries bounds Snapshots.Update's retries on conflicts (default 1,000).
	UpdateRetries int
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the store's Prometheus metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the embedded configuration with every default filled in.
func DefaultConfig() Config {
	return Config{Path: "quaver.db", KeyPrefix: "quaver:", Limits: DefaultLimits(),
		TrackCacheSize: 10000, TrackCacheTTL: time.Hour, PendingWrites: 10000, OutageCopies: 10000,
		RetryInterval: 500 * time.Millisecond, OpTimeout: 5 * time.Second, UpdateRetries: 1000}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Path == "" {
		c.Path = d.Path
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = d.KeyPrefix
	}
	c.Limits = c.Limits.withDefaults()
	if c.TrackCacheSize <= 0 {
		c.TrackCacheSize = d.TrackCacheSize
	}
	if c.TrackCacheTTL <= 0 {
		c.TrackCacheTTL = d.TrackCacheTTL
	}
	if c.PendingWrites <= 0 {
		c.PendingWrites = d.PendingWrites
	}
	if c.OutageCopies <= 0 {
		c.OutageCopies = d.OutageCopies
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = d.RetryInterval
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = d.OpTimeout
	}
	if c.UpdateRetries <= 0 {
		c.UpdateRetries = d.UpdateRetries
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Info says which backend serves each part of a Store.
type Info struct {
	Snapshots, Durable, RateLimiter, TrackCacheL2, Leases string
	// MigrationsApplied counts the SQL migrations this Open applied (0 when
	// another node had already applied them).
	MigrationsApplied int
}

// Store is every part of the state store, opened together by Open.
type Store struct {
	Snapshots    Snapshots
	Settings     Settings
	Entitlements Entitlements
	History      History
	Playlists    Playlists
	RateLimiter  RateLimiter
	TrackCache   TrackCache
	Leases       Leases

	info    Info
	metrics *metrics
	snaps   *snapshots // under Snapshots' timing
	redis   *redisBackend
	closers []func() error
}

// Info says which backend serves each part.
func (s *Store) Info() Info { return s.info }

// Sync blocks until writes queued during a Redis outage are written back
// (or ctx ends). It returns at once when nothing is queued.
func (s *Store) Sync(ctx context.Context) error {
	if s.redis == nil {
		return nil
	}
	return s.redis.snaps.sync(ctx)
}

// Pending is the number of guilds whose snapshot writes are queued in memory.
func (s *Store) Pending() int {
	if s.redis == nil {
		return 0
	}
	return s.redis.snaps.pendingLen()
}

// Close stops background work and closes every backend, in reverse order of opening.
func (s *Store) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Open opens the backends cfg selects (see Config), applying PostgreSQL
// migrations and checking that servers answer. Close releases everything.
func Open(ctx context.Context, cfg Config) (_ *Store, err error) {
	cfg = cfg.withDefaults()
	s := &Store{metrics: newMetrics(cfg.Registerer)}
	s.closers = append(s.closers, s.metrics.unregister)
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	// Each part is timed under the backend that serves it (the bbolt,
	// redis, postgres label values).
	var snapEng snapshotEngine
	var snapBackend, durableBackend string
	needBolt := cfg.PostgresURL == ""
	if cfg.PostgresURL != "" {
		pg, n, err := openPostgres(ctx, cfg, s.metrics)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, pg.close)
		s.info.MigrationsApplied = n
		s.Settings, s.Entitlements, s.History, s.Playlists = pg, pgEntitlements{pg}, pg, pgPlaylists{pg}
		s.info.Durable, durableBackend = "postgres", backendPostgres
		snapEng, s.info.Snapshots, snapBackend = pg, "postgres", backendPostgres
		s.Leases, s.info.Leases = pg, "postgres"
	}
	if needBolt {
		b, err := openBolt(cfg)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, b.close)
		s.Settings, s.Entitlements, s.History, s.Playlists = b, boltEntitlements{b}, b, boltPlaylists{b}
		s.info.Durable, durableBackend = "embedded", backendBolt
		if snapEng == nil {
			snapEng, s.info.Snapshots, snapBackend = b, "embedded", backendBolt
			s.Leases, s.info.Leases = b, "embedded"
		}
	}
	local := newLocalLimiter(time.Now)
	s.RateLimiter, s.info.RateLimiter = local, "local"
	var l2 cacheTier
	if cfg.RedisURL != "" {
		r, err := openRedis(ctx, cfg, s.metrics, local)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, r.close)
		s.redis = r
		snapEng, s.info.Snapshots, snapBackend = r.snaps, "redis", backendRedis
		s.Leases, s.info.Leases = r, "redis"
		s.RateLimiter, s.info.RateLimiter = newTimedLimiter(r, s.metrics, backendRedis), "redis"
		l2, s.info.TrackCacheL2 = newTimedTier(r, s.metrics, backendRedis), "redis"
	}
	s.snaps = &snapshots{eng: snapEng, cfg: cfg}
	s.Snapshots = newTimedSnapshots(s.snaps, s.metrics, snapBackend)
	s.Leases = newTimedLeases(s.Leases, s.metrics, snapBackend) // leases live beside the snapshots
	s.Settings = newTimedSettings(s.Settings, s.metrics, durableBackend)
	s.Entitlements = newTimedEntitlements(s.Entitlements, s.metrics, durableBackend)
	s.History = newTimedHistory(s.History, s.metrics, durableBackend)
	s.Playlists = newTimedPlaylists(s.Playlists, s.metrics, durableBackend)
	s.TrackCache = newTrackCache(cfg, l2, s.metrics)
	return s, nil
}
