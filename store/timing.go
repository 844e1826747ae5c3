package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The timed* types sit between a Store's fields and the backends and observe
// quaver_store_operation_duration_seconds for every call. Their series are
// resolved when the Store opens, only for the backend that serves each part,
// so a call costs two clock reads and one atomic histogram update and
// allocates nothing. A call is timed as the caller waits for it: retries
// inside it (Snapshots.Update) and, during a Redis outage, answers from memory
// are part of its duration.

// observeSince records the time since start on o; used as
// `defer observeSince(o, time.Now())`.
func observeSince(o prometheus.Observer, start time.Time) {
	o.Observe(time.Since(start).Seconds())
}

type timedSnapshots struct {
	next                                       Snapshots
	get, put, update, checkpoint, list, delete prometheus.Observer
}

func newTimedSnapshots(next Snapshots, m *metrics, backend string) *timedSnapshots {
	return &timedSnapshots{next: next,
		get: m.observer(backend, opSnapshotGet), put: m.observer(backend, opSnapshotPut),
		update: m.observer(backend, opSnapshotUpdate), checkpoint: m.observer(backend, opSnapshotCheckpoint),
		list: m.observer(backend, opSnapshotList), delete: m.observer(backend, opSnapshotDelete)}
}

func (t *timedSnapshots) Get(ctx context.Context, guildID string) (PlayerSnapshot, error) {
	defer observeSince(t.get, time.Now())
	return t.next.Get(ctx, guildID)
}

func (t *timedSnapshots) Put(ctx context.Context, snap PlayerSnapshot, expectVersion int64) (int64, error) {
	defer observeSince(t.put, time.Now())
	return t.next.Put(ctx, snap, expectVersion)
}

func (t *timedSnapshots) Update(ctx context.Context, guildID string, fn func(*PlayerSnapshot) error) (PlayerSnapshot, error) {
	defer observeSince(t.update, time.Now())
	return t.next.Update(ctx, guildID, fn)
}

func (t *timedSnapshots) Checkpoint(ctx context.Context, guildID string, position time.Duration) error {
	defer observeSince(t.checkpoint, time.Now())
	return t.next.Checkpoint(ctx, guildID, position)
}

func (t *timedSnapshots) List(ctx context.Context) ([]PlayerSnapshot, error) {
	defer observeSince(t.list, time.Now())
	return t.next.List(ctx)
}

func (t *timedSnapshots) Delete(ctx context.Context, guildID string) error {
	defer observeSince(t.delete, time.Now())
	return t.next.Delete(ctx, guildID)
}

type timedSettings struct {
	next     Settings
	get, put prometheus.Observer
}

func newTimedSettings(next Settings, m *metrics, backend string) *timedSettings {
	return &timedSettings{next: next, get: m.observer(backend, opSettingsGet), put: m.observer(backend, opSettingsPut)}
}

func (t *timedSettings) Get(ctx context.Context, guildID string) (GuildSettings, error) {
	defer observeSince(t.get, time.Now())
	return t.next.Get(ctx, guildID)
}

func (t *timedSettings) Put(ctx context.Context, s GuildSettings) error {
	defer observeSince(t.put, time.Now())
	return t.next.Put(ctx, s)
}

type timedEntitlements struct {
	next                Entitlements
	upsert, get, active prometheus.Observer
}

func newTimedEntitlements(next Entitlements, m *metrics, backend string) *timedEntitlements {
	return &timedEntitlements{next: next, upsert: m.observer(backend, opEntitlementUpsert),
		get: m.observer(backend, opEntitlementGet), active: m.observer(backend, opEntitlementActive)}
}

func (t *timedEntitlements) Upsert(ctx context.Context, e Entitlement) error {
	defer observeSince(t.upsert, time.Now())
	return t.next.Upsert(ctx, e)
}

func (t *timedEntitlements) Get(ctx context.Context, id string) (Entitlement, error) {
	defer observeSince(t.get, time.Now())
	return t.next.Get(ctx, id)
}

func (t *timedEntitlements) Active(ctx context.Context, guildID, userID string, at time.Time) ([]Entitlement, error) {
	defer observeSince(t.active, time.Now())
	return t.next.Active(ctx, guildID, userID, at)
}

type timedHistory struct {
	next        History
	add, recent prometheus.Observer
}

func newTimedHistory(next History, m *metrics, backend string) *timedHistory {
	return &timedHistory{next: next, add: m.observer(backend, opHistoryAdd), recent: m.observer(backend, opHistoryRecent)}
}

func (t *timedHistory) Add(ctx context.Context, e HistoryEntry) error {
	defer observeSince(t.add, time.Now())
	return t.next.Add(ctx, e)
}

func (t *timedHistory) Recent(ctx context.Context, guildID string, limit int) ([]HistoryEntry, error) {
	defer observeSince(t.recent, time.Now())
	return t.next.Recent(ctx, guildID, limit)
}

type timedPlaylists struct {
	next                     Playlists
	save, get, names, delete prometheus.Observer
}

func newTimedPlaylists(next Playlists, m *metrics, backend string) *timedPlaylists {
	return &timedPlaylists{next: next, save: m.observer(backend, opPlaylistSave), get: m.observer(backend, opPlaylistGet),
		names: m.observer(backend, opPlaylistNames), delete: m.observer(backend, opPlaylistDelete)}
}

func (t *timedPlaylists) Save(ctx context.Context, p Playlist) error {
	defer observeSince(t.save, time.Now())
	return t.next.Save(ctx, p)
}

func (t *timedPlaylists) Get(ctx context.Context, ownerID, name string) (Playlist, error) {
	defer observeSince(t.get, time.Now())
	return t.next.Get(ctx, ownerID, name)
}

func (t *timedPlaylists) Names(ctx context.Context, ownerID string) ([]string, error) {
	defer observeSince(t.names, time.Now())
	return t.next.Names(ctx, ownerID)
}

func (t *timedPlaylists) Delete(ctx context.Context, ownerID, name string) error {
	defer observeSince(t.delete, time.Now())
	return t.next.Delete(ctx, ownerID, name)
}

// timedLimiter times a server-side limiter (Redis); the in-process one has
// no backend call to time.
type timedLimiter struct {
	next  RateLimiter
	allow prometheus.Observer
}

func newTimedLimiter(next RateLimiter, m *metrics, backend string) *timedLimiter {
	return &timedLimiter{next: next, allow: m.observer(backend, opRateLimitAllow)}
}

func (t *timedLimiter) Allow(ctx context.Context, key string, rate Rate, burst int) (Decision, error) {
	defer observeSince(t.allow, time.Now())
	return t.next.Allow(ctx, key, rate, burst)
}

// timedTier times the track cache's shared tier; L1 hits never reach it.
type timedTier struct {
	next     cacheTier
	get, set prometheus.Observer
}

func newTimedTier(next cacheTier, m *metrics, backend string) *timedTier {
	return &timedTier{next: next, get: m.observer(backend, opTrackCacheGet), set: m.observer(backend, opTrackCacheSet)}
}

func (t *timedTier) cacheGet(ctx context.Context, key string) ([]Track, bool) {
	defer observeSince(t.get, time.Now())
	return t.next.cacheGet(ctx, key)
}

func (t *timedTier) cacheSet(ctx context.Context, key string, tracks []Track, ttl time.Duration) {
	defer observeSince(t.set, time.Now())
	t.next.cacheSet(ctx, key, tracks, ttl)
}

type timedLeases struct {
	next                    Leases
	acquire, renew, release prometheus.Observer
}

func newTimedLeases(next Leases, m *metrics, backend string) *timedLeases {
	return &timedLeases{next: next, acquire: m.observer(backend, opLeaseAcquire),
		renew: m.observer(backend, opLeaseRenew), release: m.observer(backend, opLeaseRelease)}
}

func (t *timedLeases) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	defer observeSince(t.acquire, time.Now())
	return t.next.Acquire(ctx, key, owner, ttl)
}

func (t *timedLeases) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	defer observeSince(t.renew, time.Now())
	return t.next.Renew(ctx, l, ttl)
}

func (t *timedLeases) Release(ctx context.Context, l Lease) error {
	defer observeSince(t.release, time.Now())
	return t.next.Release(ctx, l)
}
