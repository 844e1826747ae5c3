package mp3

// synthWindowed is the SSE (baseline amd64) windowing kernel in synth_amd64.s;
// it computes what synthWindowedGo does.
//
//go:noescape
func synthWindowed(v *[1024]float32, w *[16][32]float32, out *[32]float32)
