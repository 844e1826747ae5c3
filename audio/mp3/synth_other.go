//go:build !amd64

package mp3

func synthWindowed(v *[1024]float32, w *[16][32]float32, out *[32]float32) {
	synthWindowedGo(v, w, out)
}
