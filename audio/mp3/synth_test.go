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

// TestDCT32Unrolled: the unrolled DCT gives bit-identical results to the
// recursive one, and both match the DCT-II definition.
func TestDCT32Unrolled(t *testing.T) {
	for seed := 0; seed < 50; seed++ {
		var x, want [32]float32
		for i := range x {
			x[i] = float32(math.Sin(float64(seed*32+i)*1.7)) * float32(seed+1)
		}
		want = x
		got := x
		dct32Lee(&want)
		dct32(&got)
		if got != want {
			t.Fatalf("seed %d: unrolled %v, recursive %v", seed, got, want)
		}
		for m := range want {
			var s float64
			for k, v := range x {
				s += float64(v) * math.Cos(math.Pi*float64(m)*float64(2*k+1)/64)
			}
			if math.Abs(s-float64(want[m])) > 1e-4*float64(seed+1)*32 {
				t.Fatalf("seed %d: X[%d] = %v, definition gives %v", seed, m, want[m], s)
			}
		}
	}
}
