package mp3

import (
	"math"
	"testing"
)

// Intensity stereo factors from ISO/IEC 11172-3 §2.4.3.4.9.3 and ISO/IEC
// 13818-3 §2.4.3.2, worked by hand: is_ratio = tan(is_pos·π/12), left =
// ratio/(1+ratio), right = 1/(1+ratio); MPEG-2 uses powers of 2^-1/4 or 2^-1/2.
func TestIntensityRange(t *testing.T) {
	const s2 = 0.70710678118654752
	cases := []struct {
		name         string
		pos, maxPos  int
		lsf, ms      bool
		scale        int
		wantL, wantR float64 // for left = 1, right = 0.5 input
	}{
		{"mpeg1 pos0 all right", 0, 7, false, false, 0, 0, 1},
		{"mpeg1 pos3 centre", 3, 7, false, false, 0, 0.5, 0.5},
		{"mpeg1 pos6 all left", 6, 7, false, false, 0, 1, 0},
		{"mpeg1 pos2", 2, 7, false, false, 0, (1 / math.Sqrt(3)) / (1 + 1/math.Sqrt(3)), 1 / (1 + 1/math.Sqrt(3))},
		{"mpeg1 illegal no ms", 7, 7, false, false, 0, 1, 0.5},
		{"mpeg1 illegal ms", 7, 7, false, true, 0, 1.5 * s2, 0.5 * s2},
		{"lsf pos0", 0, 15, true, false, 0, 1, 1},
		{"lsf pos1 scale0", 1, 15, true, false, 0, math.Pow(2, -0.25), 1},
		{"lsf pos2 scale1", 2, 15, true, false, 1, 1, s2},
		{"lsf pos5 scale1", 5, 15, true, false, 1, math.Pow(2, -1.5), 1},
		{"lsf illegal ms", 15, 15, true, true, 0, 1.5 * s2, 0.5 * s2},
	}
	for _, tc := range cases {
		var l, r [576]float32
		l[10], r[10] = 1, 0.5
		intensityRange(&l, &r, 8, 12, tc.pos, tc.maxPos, tc.lsf, tc.ms, tc.scale)
		if math.Abs(float64(l[10])-tc.wantL) > 1e-6 || math.Abs(float64(r[10])-tc.wantR) > 1e-6 {
			t.Errorf("%s: got %.6f, %.6f; want %.6f, %.6f", tc.name, l[10], r[10], tc.wantL, tc.wantR)
		}
	}
}

// TestIntensityBoundary: intensity stereo starts at the band after the
// right channel's last non-zero line; bands below use mid/side.
func TestIntensityBoundary(t *testing.T) {
	d := &Decoder{}
	h := header{version: mpeg1, rateIdx: 0, mode: modeJointStereo, modeExt: 3}
	var g granule
	var sc chanScale
	for i := range sc.l {
		sc.l[i] = 3 // centre: both channels get half the left value
	}
	for i := 0; i < 100; i++ {
		d.xr[0][i] = 1
	}
	d.xr[1][20] = 1 // in band 5 (lines 20..23) at 44.1 kHz
	nz := [2]int{100, 24}
	d.stereo(h, &g, &sc, &nz)
	const s2 = 0.70710678118654752
	// Line 0 (band 0) and line 23 (band 5): mid/side with side 0.
	for _, i := range []int{0, 23} {
		if math.Abs(float64(d.xr[0][i])-s2) > 1e-6 || math.Abs(float64(d.xr[1][i])-s2) > 1e-6 {
			t.Errorf("line %d: %f, %f; want mid/side %f, %f", i, d.xr[0][i], d.xr[1][i], s2, s2)
		}
	}
	// Line 24 (band 6) onwards: intensity at position 3.
	for _, i := range []int{24, 60, 99} {
		if math.Abs(float64(d.xr[0][i])-0.5) > 1e-6 || math.Abs(float64(d.xr[1][i])-0.5) > 1e-6 {
			t.Errorf("line %d: %f, %f; want intensity 0.5, 0.5", i, d.xr[0][i], d.xr[1][i])
		}
	}
}
