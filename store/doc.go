// Package store keeps Quaver's per-guild state so that a restart, a crash or a
// move to another node loses nothing. One contract (the interfaces in this
// package) has three backends: an embedded file for a bare node, Redis for hot
// state shared by a cluster, and PostgreSQL for durable records.
//
// Open picks them from Config:
//
//	no URL              everything in the embedded bbolt file (Config.Path)
//	RedisURL            snapshots, rate limits, track cache L2, leases in Redis;
//	                    settings, entitlements, history, playlists in the file
//	PostgresURL         everything durable (and snapshots, leases) in PostgreSQL
//	both                hot state in Redis, durable records in PostgreSQL
//
// Guarantees every backend gives (the contract suite in contract_test.go runs
// on each):
//   - Snapshots are versioned: Put with a stale version fails with
//     ErrVersionConflict, Update retries, so concurrent writers — goroutines
//     or nodes — never lose an update. Checkpoint stores the playback
//     position without rewriting the snapshot.
//   - Bad stored data (corrupt bytes, a newer schema, an oversized queue) is
//     an error wrapping ErrCorrupt, ErrUnknownSchema or ErrTooLarge that
//     names the guild; sizes are bounded by Config.Limits before anything
//     is decoded.
//   - A server that cannot be reached gives errors wrapping ErrUnavailable,
//     and the store recovers by itself when it returns. With Redis, snapshot
//     writes made during an outage are queued in memory (bounded, newest per
//     guild) and written back; rate limiting falls back to the node; the
//     track cache serves its L1.
//
// Metrics (exported when Config.Registerer is set): every call through a
// Store's fields is timed in quaver_store_operation_duration_seconds{backend,
// op}, backend being the one serving that part (bbolt, redis, postgres) and
// op the method (snapshot_get, settings_put, lease_acquire, ...); the series
// are created at Open for the parts this configuration serves.
// quaver_store_backend_unavailable_total{backend} counts calls that found
// Redis or PostgreSQL unreachable. The others cover the Redis outage queue
// and the track cache (see metrics.go).
//
// Store.Close stops background work; Store.Sync waits for queued writes.
package store
