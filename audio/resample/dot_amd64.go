package resample

// dotStereo4 and dotMono4 are the SSE (baseline amd64) kernels in dot_amd64.s:
// they filter the first len(c)&^3 taps. len(win) must be ≥ 2·len(c) (stereo)
// or ≥ len(c) (mono).
//
//go:noescape
func dotStereo4(c, win []float32) (l, r float32)

//go:noescape
func dotMono4(c, win []float32) float32

func dotStereo(c, win []float32) (float32, float32) {
	win = win[:2*len(c)] // bounds check for the assembly
	l, r := dotStereo4(c, win)
	for k := len(c) &^ 3; k < len(c); k++ {
		l += c[k] * win[2*k]
		r += c[k] * win[2*k+1]
	}
	return l, r
}

func dotMono(c, win []float32) float32 {
	win = win[:len(c)]
	s := dotMono4(c, win)
	for k := len(c) &^ 3; k < len(c); k++ {
		s += c[k] * win[k]
	}
	return s
}
