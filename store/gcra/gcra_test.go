package gcra

import "testing"

func TestStep(t *testing.T) {
	const iv = 100 // 10 events per 1000 units
	tests := []struct {
		name               string
		tat, now, burst    int64
		allowed            bool
		retry, remain, out int64
	}{
		{"fresh key, burst 1", 0, 1000, 1, true, 0, 0, 1100},
		{"fresh key, burst 5 leaves 4", 0, 1000, 5, true, 0, 4, 1100},
		{"second back-to-back, burst 1, waits one interval", 1100, 1000, 1, false, 100, 0, 1100},
		{"burst 3 third event allowed", 1200, 1000, 3, true, 0, 0, 1300},
		{"burst 3 fourth event denied", 1300, 1000, 3, false, 100, 0, 1300},
		{"old TAT in the past behaves as fresh", 10, 1000, 2, true, 0, 1, 1100},
		{"exactly at allow time", 1100, 1100, 1, true, 0, 0, 1200},
		{"zero burst treated as one", 0, 1000, 0, true, 0, 0, 1100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Step(tc.tat, tc.now, iv, tc.burst)
			if r.Allowed != tc.allowed || r.RetryAfter != tc.retry || r.Remaining != tc.remain || r.TAT != tc.out {
				t.Fatalf("Step(%d,%d,%d,%d) = %+v, want allowed=%v retry=%d remaining=%d tat=%d",
					tc.tat, tc.now, iv, tc.burst, r, tc.allowed, tc.retry, tc.remain, tc.out)
			}
		})
	}
}

// TestSustainedRate: over a long run at twice the allowed rate, the number of
// allowed events matches burst + elapsed/interval.
func TestSustainedRate(t *testing.T) {
	const iv, burst = 50, 4
	var tat int64
	allowed := 0
	for now := int64(0); now < 10000; now += 25 {
		r := Step(tat, now, iv, burst)
		tat = r.TAT
		if r.Allowed {
			allowed++
		}
	}
	want := burst + 10000/iv - 1 // last event at 9975 → 199 intervals + burst
	if allowed < want-1 || allowed > want+1 {
		t.Fatalf("allowed %d events, want about %d", allowed, want)
	}
}
