//go:build !amd64

package resample

func dotStereo(c, win []float32) (float32, float32) { return dotStereoGo(c, win) }

func dotMono(c, win []float32) float32 { return dotMonoGo(c, win) }
