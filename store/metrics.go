package store

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one Store's Prometheus collectors. They are always counted (the
// tests read them); they are exported only when Config.Registerer is set.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	registered []prometheus.Collector // the ones this Store registered (and unregisters at Close)

	cacheLookups  *prometheus.CounterVec // tier, result
	cacheHits     atomic.Int64
	cacheRequests atomic.Int64
	pending       atomic.Int64
	resynced      prometheus.Counter
	resyncConfl   prometheus.Counter
	rlFallback    prometheus.Counter
	backendErrors *prometheus.CounterVec   // backend
	opDuration    *prometheus.HistogramVec // backend, op
}

// Backend label values of quaver_store_operation_duration_seconds and
// quaver_store_backend_unavailable_total.
const (
	backendBolt     = "bbolt"
	backendRedis    = "redis"
	backendPostgres = "postgres"
)

// Op label values of quaver_store_operation_duration_seconds: one per method
// of the store's interfaces (Snapshots.Get is snapshot_get, and so on).
const (
	opSnapshotGet        = "snapshot_get"
	opSnapshotPut        = "snapshot_put"
	opSnapshotUpdate     = "snapshot_update"
	opSnapshotCheckpoint = "snapshot_checkpoint"
	opSnapshotList       = "snapshot_list"
	opSnapshotDelete     = "snapshot_delete"
	opSettingsGet        = "settings_get"
	opSettingsPut        = "settings_put"
	opEntitlementUpsert  = "entitlement_upsert"
	opEntitlementGet     = "entitlement_get"
	opEntitlementActive  = "entitlement_active"
	opHistoryAdd         = "history_add"
	opHistoryRecent      = "history_recent"
	opPlaylistSave       = "playlist_save"
	opPlaylistGet        = "playlist_get"
	opPlaylistNames      = "playlist_names"
	opPlaylistDelete     = "playlist_delete"
	opRateLimitAllow     = "ratelimit_allow"
	opTrackCacheGet      = "trackcache_get"
	opTrackCacheSet      = "trackcache_set"
	opLeaseAcquire       = "lease_acquire"
	opLeaseRenew         = "lease_renew"
	opLeaseRelease       = "lease_release"
)

// opDurationBuckets span a local bbolt read (~10 µs) to a round trip that
// hits the default 5 s OpTimeout.
var opDurationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{reg: reg}
	m.cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quaver_store_trackcache_lookups_total",
		Help: "Track cache lookups by tier (l1, l2) and result (hit, miss).",
	}, []string{"tier", "result"})
	hitRatio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quaver_store_trackcache_hit_ratio",
		Help: "Fraction of track cache lookups answered by L1 or L2 since start.",
	}, m.hitRatio)
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quaver_store_pending_snapshot_writes",
		Help: "Guilds whose snapshot writes are queued in memory while Redis is unreachable.",
	}, func() float64 { return float64(m.pending.Load()) })
	m.resynced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "quaver_store_resynced_writes_total",
		Help: "Queued snapshot writes written back to Redis after an outage.",
	})
	m.resyncConfl = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "quaver_store_resync_conflicts_total",
		Help: "Queued snapshot writes that found a newer version in Redis and overwrote it (last writer wins, logged).",
	})
	m.rlFallback = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "quaver_store_ratelimit_local_fallback_total",
		Help: "Rate limit decisions made in-process because Redis was unreachable (their counts are not shared).",
	})
	m.backendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quaver_store_backend_unavailable_total",
		Help: "Operations that failed because a backend server was unreachable.",
	}, []string{"backend"})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quaver_store_operation_duration_seconds",
		Help:    "Time store operations took, by the backend serving them (bbolt, redis, postgres) and operation; failed ones included.",
		Buckets: opDurationBuckets,
	}, []string{"backend", "op"})
	m.collectors = []prometheus.Collector{m.cacheLookups, hitRatio, pending, m.resynced, m.resyncConfl, m.rlFallback,
		m.backendErrors, m.opDuration}
	if reg != nil {
		for _, c := range m.collectors {
			// A collector another Store in this process registered first stays
			// that Store's; this one then only counts locally.
			if reg.Register(c) == nil {
				m.registered = append(m.registered, c)
			}
		}
	}
	return m
}

// unavailableCounter is backend's quaver_store_backend_unavailable_total,
// resolved once by the backend so that counting an outage allocates nothing
// (and the series is exported, at 0, from the start).
func (m *metrics) unavailableCounter(backend string) prometheus.Counter {
	return m.backendErrors.WithLabelValues(backend)
}

// observer is backend's op series of quaver_store_operation_duration_seconds,
// resolved once when the Store opens: observing it then allocates nothing.
func (m *metrics) observer(backend, op string) prometheus.Observer {
	return m.opDuration.WithLabelValues(backend, op)
}

func (m *metrics) hitRatio() float64 {
	n := m.cacheRequests.Load()
	if n == 0 {
		return 0
	}
	return float64(m.cacheHits.Load()) / float64(n)
}

func (m *metrics) unregister() error {
	for _, c := range m.registered {
		m.reg.Unregister(c)
	}
	m.registered = nil
	return nil
}
