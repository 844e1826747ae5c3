package voiceload

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunSmall(t *testing.T) {
	for _, mode := range []string{ModePassthrough, ModeTranscode} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, Config{N: 4, Duration: 2 * time.Second, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			// 4 connections × 50 packets/s × 2 s = 400, with slack for a busy machine.
			if r.Connections != 4 || r.PacketsSent < 100 || r.PacketsLost > r.PacketsSent/20 {
				t.Fatalf("result %+v", r)
			}
			if r.LatenessMsP50 > r.LatenessMsP99 || r.LatenessMsP99 > r.LatenessMsMax+0.01 || r.CPUPercentPerConnection <= 0 {
				t.Fatalf("figures out of order: %+v", r)
			}
			b, _ := json.Marshal(r)
			for _, k := range []string{"connections", "cpu_percent_per_connection", "rss_kb_per_connection",
				"lateness_ms_p50", "lateness_ms_p99", "lateness_ms_max", "packets_sent", "packets_lost"} {
				if !strings.Contains(string(b), `"`+k+`":`) {
					t.Fatalf("JSON %s lacks %q", b, k)
				}
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{N: 0, Duration: time.Second, Mode: ModePassthrough}, {N: 1, Mode: ModePassthrough}, {N: 1, Duration: time.Second, Mode: "x"}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// BenchmarkVoiceLoad runs the pass-through load once per size (use
// -benchtime 1x); figures are reported as metrics.
func BenchmarkVoiceLoad(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 3000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				r, err := Run(context.Background(), Config{N: n, Duration: 20 * time.Second, Mode: ModePassthrough})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.CPUPercentPerConnection, "cpu%/conn")
				b.ReportMetric(r.RSSKBPerConnection, "rssKB/conn")
				b.ReportMetric(r.LatenessMsP50, "p50ms")
				b.ReportMetric(r.LatenessMsP99, "p99ms")
				b.ReportMetric(r.LatenessMsMax, "maxms")
				b.ReportMetric(float64(r.PacketsSent), "sent")
				b.ReportMetric(float64(r.PacketsLost), "lost")
				js, _ := json.Marshal(r)
				b.Logf("%s", js)
			}
		})
	}
}
