package mp3

import "math"

// The polyphase synthesis filterbank (ISO/IEC 11172-3 §2.4.3.2, Annex A
// Figure A.2). The 64-point matrixing of each time slot is computed from one
// 32-point DCT-II (Lee's factorization), then windowed with D[].

var (
	synthWindow [512]float32
	dctCoef     [6][]float32 // dctCoef[log2 n]: 1/(2cos((2i+1)π/2n)), i < n/2
)

func init() {
	for i := 0; i < 257; i++ {
		v := float32(synthWindowHalf[i]) / 65536
		synthWindow[i] = v
		if i&63 != 0 {
			v = -v
		}
		if i != 0 && i != 256 {
			synthWindow[512-i] = v
		}
	}
	for lg := 1; lg <= 5; lg++ {
		n := 1 << lg
		c := make([]float32, n/2)
		for i := range c {
			c[i] = float32(1 / (2 * math.Cos(float64(2*i+1)*math.Pi/float64(2*n))))
		}
		dctCoef[lg] = c
	}
}

// dct computes the unnormalized DCT-II X[m] = Σ x[k] cos(πm(2k+1)/2n) of x in
// place, using tmp (same length) as scratch; n = len(x) is a power of two.
func dct(x, tmp []float32, lg int) {
	n := len(x)
	if n == 2 {
		a, b := x[0], x[1]
		x[0] = a + b
		x[1] = (a - b) * 0.70710678118654752
		return
	}
	half := n / 2
	c := dctCoef[lg]
	for i := 0; i < half; i++ {
		a, b := x[i], x[n-1-i]
		tmp[i] = a + b
		tmp[half+i] = (a - b) * c[i]
	}
	dct(tmp[:half], x[:half], lg-1)
	dct(tmp[half:n], x[half:n], lg-1)
	for i := 0; i < half-1; i++ {
		x[2*i] = tmp[i]
		x[2*i+1] = tmp[half+i] + tmp[half+i+1]
	}
	x[n-2] = tmp[half-1]
	x[n-1] = tmp[n-1]
}

// synth is one channel's filterbank state: the V vector is kept twice
// (v[i] == v[i+1024]) so the 16 taps never wrap.
type synth struct {
	v   [2048]float32
	off int
	x   [32]float32
	tmp [32]float32
}

func (s *synth) reset() {
	*s = synth{}
}

// slot turns 32 subband samples into 32 PCM samples written to
// out[0], out[stride], ...
func (s *synth) slot(in *[32]float32, out []float32, stride int) {
	s.off = (s.off - 64) & 1023
	x := &s.x
	*x = *in
	dct(x[:], s.tmp[:], 5)
	v := s.v[s.off : s.off+64]
	v2 := s.v[s.off+1024 : s.off+1024+64]
	for i := 0; i < 16; i++ {
		v[i] = x[16+i]
		v[48+i] = -x[i]
	}
	v[16] = 0
	for i := 17; i < 48; i++ {
		v[i] = -x[48-i]
	}
	copy(v2, v)
	var acc [32]float32
	for i := 0; i < 8; i++ {
		vv := s.v[s.off+128*i : s.off+128*i+128]
		d := synthWindow[64*i : 64*i+64]
		for j := 0; j < 32; j++ {
			acc[j] += vv[j]*d[j] + vv[96+j]*d[32+j]
		}
	}
	_ = out[31*stride]
	for j := 0; j < 32; j++ {
		a := acc[j]
		if a > 1 {
			a = 1
		} else if a < -1 {
			a = -1
		}
		out[j*stride] = a
	}
}
