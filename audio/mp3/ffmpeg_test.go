package mp3

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// decodeAll decodes path with our decoder through an *os.File.
func decodeAll(t testing.TB, path string) (*Decoder, []float32) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d, err := NewDecoder(f)
	if err != nil {
		t.Fatalf("NewDecoder(%s): %v", filepath.Base(path), err)
	}
	return d, readRest(t, d)
}

func readRest(t testing.TB, d *Decoder) []float32 {
	t.Helper()
	var out []float32
	buf := make([]float32, 4096)
	for {
		n, err := d.ReadPCM(buf)
		if n%d.Channels() != 0 {
			t.Fatalf("ReadPCM returned %d samples, not a multiple of %d channels", n, d.Channels())
		}
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("ReadPCM: %v", err)
		}
	}
}

// ncc is the normalized cross-correlation of a and b over their common
// length, with b shifted by lag frames (of ch channels).
func ncc(a, b []float32, ch, lag int) float64 {
	var ab, aa, bb float64
	for i := range a {
		j := i + lag*ch
		if j < 0 || j >= len(b) {
			continue
		}
		x, y := float64(a[i]), float64(b[j])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		if aa == bb {
			return 1
		}
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// bestLag searches lags in [-maxLag, maxLag] for the highest correlation.
func bestLag(a, b []float32, ch, maxLag int) (int, float64) {
	best, bestC := 0, math.Inf(-1)
	for lag := -maxLag; lag <= maxLag; lag++ {
		if c := ncc(a, b, ch, lag); c > bestC {
			best, bestC = lag, c
		}
	}
	return best, bestC
}
