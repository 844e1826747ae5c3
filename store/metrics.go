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
	backendErrors *prometheus.CounterVec // backend
}

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
	m.collectors = []prometheus.Collector{m.cacheLookups, hitRatio, pending, m.resynced, m.resyncConfl, m.rlFallback, m.backendErrors}
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
