package mp3

import (
	"math"
	"testing"
)

// TestSynthWindowedKernel: the SIMD windowing kernel agrees with the portable one.
func TestSynthWindowedKernel(t *testing.T) {
	var v [1024]float32
	for i := range v {
		v[i] = float32(math.Sin(float64(i)*0.37)) * 0.9
	}
	var got, want [32]float32
	synthWindowed(&v, &synthWindowV, &got)
	synthWindowedGo(&v, &synthWindowV, &want)
	for j := range got {
		if math.Abs(float64(got[j]-want[j])) > 1e-6 {
			t.Fatalf("output %d: %v, want %v", j, got[j], want[j])
		}
	}
}
