package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks for snapshot latency and throughput on every backend:
//
//	go test -run '^$' -bench Snapshot -benchtime 2000x ./store/
//
// p50/p99 are per-operation latencies in microseconds; the 1,000-guild
// benchmark reports updates per second with 1,000 goroutines each updating
// its own guild (Update = read + compare-and-set write).

var benchBackends = []backend{embeddedBackend, redisBackendT, postgresBackendT}

func benchSnapshot(id string) PlayerSnapshot {
	s := sampleSnapshot(id)
	for i := range 20 { // a typical queue
		s.Queue = append(s.Queue, Track{ID: fmt.Sprint("yt:", i), URL: "https://example.test/watch?v=" + fmt.Sprint(i),
			Title: "Some song title", Author: "Some artist", Duration: 3 * time.Minute, RequestedBy: "123456789012345678"})
	}
	return s
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkSnapshotWrite(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.setup(b)(b, Config{})
			ctx := context.Background()
			snap := benchSnapshot("bench-w-" + randomHex(4))
			lat := make([]time.Duration, 0, b.N)
			var v int64
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				nv, err := s.Snapshots.Put(ctx, snap, v)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				v = nv
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

func BenchmarkSnapshotRead(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.setup(b)(b, Config{})
			ctx := context.Background()
			id := "bench-r-" + randomHex(4)
			if _, err := s.Snapshots.Put(ctx, benchSnapshot(id), 0); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				_, err := s.Snapshots.Get(ctx, id)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

func BenchmarkSnapshotCheckpoint(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.setup(b)(b, Config{})
			ctx := context.Background()
			id := "bench-c-" + randomHex(4)
			if _, err := s.Snapshots.Put(ctx, benchSnapshot(id), 0); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				err := s.Snapshots.Checkpoint(ctx, id, time.Duration(i)*time.Second)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkSnapshot1000Guilds: b.N updates spread over 1,000 concurrently
// updating guilds.
func BenchmarkSnapshot1000Guilds(b *testing.B) {
	const guilds = 1000
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.setup(b)(b, Config{})
			ctx := context.Background()
			prefix := "bench-t-" + randomHex(4) + "-"
			base := benchSnapshot("x")
			var next atomic.Int64
			lats := make([][]time.Duration, guilds)
			var wg sync.WaitGroup
			errs := make(chan error, guilds)
			b.ResetTimer()
			start := time.Now()
			for g := range guilds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprint(prefix, g)
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						_, err := s.Snapshots.Update(ctx, id, func(p *PlayerSnapshot) error {
							if p.Current == nil {
								v := p.Version
								*p = base
								p.GuildID, p.Version = id, v
							}
							p.Position += time.Second
							return nil
						})
						lats[g] = append(lats[g], time.Since(t0))
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			var all []time.Duration
			for _, l := range lats {
				all = append(all, l...)
			}
			reportLatency(b, all)
			b.ReportMetric(float64(b.N)/el.Seconds(), "updates/s")
		})
	}
}
