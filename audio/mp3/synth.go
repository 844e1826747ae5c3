package mp3

import "math"

// The polyphase synthesis filterbank (ISO/IEC 11172-3 §2.4.3.2, Annex A
// Figure A.2). The 64-point matrixing of each time slot is computed from one
// 32-point DCT-II (Lee's factorization), then windowed with D[].

var (
	synthWindow [512]float32
	// synthWindowT[j] holds the 16 window taps output j uses, in the order
	// slot reads them: D[64i+j] and D[64i+32+j] for i = 0..7.
	synthWindowT [32][16]float32
	// synthWindowV is synthWindowT transposed, synthWindowV[t][j] ==
	// synthWindowT[j][t], so four consecutive outputs read consecutive taps.
	synthWindowV [16][32]float32
	// synthTapOffset[t] is where in V tap t of output 0 lies.
	synthTapOffset = [16]int{0, 96, 128, 224, 256, 352, 384, 480, 512, 608, 640, 736, 768, 864, 896, 992}
	dctCoef        [6][]float32 // dctCoef[log2 n]: 1/(2cos((2i+1)π/2n)), i < n/2
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
	for j := 0; j < 32; j++ {
		for i := 0; i < 8; i++ {
			synthWindowT[j][2*i] = synthWindow[64*i+j]
			synthWindowT[j][2*i+1] = synthWindow[64*i+32+j]
		}
		for t := 0; t < 16; t++ {
			synthWindowV[t][j] = synthWindowT[j][t]
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

// dct32Lee computes the unnormalized DCT-II X[m] = Σ x[k] cos(πm(2k+1)/64) in
// place by Lee's recursive factorization: the even outputs are the DCT of
// the folded sums, the odd ones come from the DCT of the scaled differences.
// Each size has its own function on fixed-size arrays (no bounds checks).
func dct32Lee(x *[32]float32) {
	var a, b [16]float32
	c := (*[16]float32)(dctCoef[5])
	for i := 0; i < 16; i++ {
		u, v := x[i], x[31-i]
		a[i] = u + v
		b[i] = (u - v) * c[i]
	}
	dct16(&a)
	dct16(&b)
	for i := 0; i < 15; i++ {
		x[2*i] = a[i]
		x[2*i+1] = b[i] + b[i+1]
	}
	x[30] = a[15]
	x[31] = b[15]
}

func dct16(x *[16]float32) {
	var a, b [8]float32
	c := (*[8]float32)(dctCoef[4])
	for i := 0; i < 8; i++ {
		u, v := x[i], x[15-i]
		a[i] = u + v
		b[i] = (u - v) * c[i]
	}
	dct8(&a)
	dct8(&b)
	for i := 0; i < 7; i++ {
		x[2*i] = a[i]
		x[2*i+1] = b[i] + b[i+1]
	}
	x[14] = a[7]
	x[15] = b[7]
}

func dct8(x *[8]float32) {
	var a, b [4]float32
	c := (*[4]float32)(dctCoef[3])
	for i := 0; i < 4; i++ {
		u, v := x[i], x[7-i]
		a[i] = u + v
		b[i] = (u - v) * c[i]
	}
	dct4(&a)
	dct4(&b)
	x[0], x[1] = a[0], b[0]+b[1]
	x[2], x[3] = a[1], b[1]+b[2]
	x[4], x[5] = a[2], b[2]+b[3]
	x[6], x[7] = a[3], b[3]
}

func dct4(x *[4]float32) {
	c := (*[2]float32)(dctCoef[2])
	a0, a1 := x[0]+x[3], x[1]+x[2]
	b0, b1 := (x[0]-x[3])*c[0], (x[1]-x[2])*c[1]
	// Two-point DCTs of (a0, a1) and (b0, b1).
	const r = 0.70710678118654752
	A0, A1 := a0+a1, (a0-a1)*r
	B0, B1 := b0+b1, (b0-b1)*r
	x[0], x[1], x[2], x[3] = A0, B0+B1, A1, B1
}

// synth is one channel's filterbank state: the V vector is kept twice
// (v[i] == v[i+1024]) so the 16 taps never wrap.
type synth struct {
	v   [2048]float32
	off int
	x   [32]float32
	out [32]float32
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
	dct32(x)
	v := (*[64]float32)(s.v[s.off:])
	v2 := (*[64]float32)(s.v[s.off+1024:])
	for i := 0; i < 16; i++ {
		v[i] = x[16+i]
		v[48+i] = -x[i]
	}
	v[16] = 0
	for i := 17; i < 48; i++ {
		v[i] = -x[48-i]
	}
	*v2 = *v
	vv := (*[1024]float32)(s.v[s.off:])
	synthWindowed(vv, &synthWindowV, &s.out)
	_ = out[31*stride]
	for j, a := range &s.out {
		if a > 1 {
			a = 1
		} else if a < -1 {
			a = -1
		}
		out[j*stride] = a
	}
}

// synthWindowedGo windows the V vector: out[j] = Σ_t v[synthTapOffset[t]+j]·w[t][j].
func synthWindowedGo(v *[1024]float32, w *[16][32]float32, out *[32]float32) {
	for j := 0; j < 32; j++ {
		var a float32
		for t, o := range &synthTapOffset {
			a += v[o+j] * w[t][j]
		}
		out[j] = a
	}
}
