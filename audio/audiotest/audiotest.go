// Package audiotest makes test audio and judges audio that Quaver produced:
// generated signals (tones, sweeps, noise, music-like mixes), WAV writing,
// conversion and decoding through ffmpeg as an independent reference, and
// alignment plus normalized cross-correlation to compare what came out with
// what went in. Tests across the project share it; it is not used in production.
package audiotest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/internal/testenv"
)

// Signal is interleaved float32 PCM; see synth.Signal.
type Signal = synth.Signal

// Generators and encoders from synth, re-exported for tests.
var (
	Tone     = synth.Tone
	PureTone = synth.PureTone
	Sweep    = synth.Sweep
	Noise    = synth.Noise
	Music    = synth.Music
	WAV      = synth.WAV
	WAV24    = synth.WAV24
	WAVFloat = synth.WAVFloat
)

// WriteFile writes data to a new file named name in t's temporary directory and returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Ffmpeg runs ffmpeg with args (quiet, overwriting), failing t with its output on error.
func Ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	bin := testenv.Tool(t, "ffmpeg")
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	out, err := exec.Command(bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// Convert writes s to a WAV and has ffmpeg convert it to a file named name with
// the given output options (codec, bitrate, container), returning the path.
func Convert(t testing.TB, s Signal, name string, opts ...string) string {
	t.Helper()
	in := WriteFile(t, "src.wav", WAV(s))
	out := filepath.Join(filepath.Dir(in), name)
	Ffmpeg(t, append(append([]string{"-i", in}, opts...), out)...)
	return out
}

// Decode has ffmpeg decode any file to float PCM at rate and channels.
func Decode(t testing.TB, path string, rate, channels int) Signal {
	t.Helper()
	bin := testenv.Tool(t, "ffmpeg")
	cmd := exec.Command(bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", path,
		"-f", "f32le", "-ac", fmt.Sprint(channels), "-ar", fmt.Sprint(rate), "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", path, err, stderr.String())
	}
	s := Signal{Rate: rate, Channels: channels, Samples: make([]float32, len(out)/4)}
	for i := range s.Samples {
		s.Samples[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[i*4:]))
	}
	return s
}

// NCC returns the normalized cross-correlation of a and b at the best lag within
// ±maxLag samples (positive lag: b is late), over their overlap. The lag is found
// on an excerpt of at most 32768 samples, then scored over the whole overlap.
func NCC(a, b []float32, maxLag int) (best float64, lag int) {
	ex := a
	start := 0
	if len(a) > 2*maxLag+32768 {
		start = len(a)/2 - 16384
		ex = a[start : start+32768]
	}
	bestEx := -2.0
	for l := -maxLag; l <= maxLag; l++ {
		if c := nccAt(ex, b, l+start); c > bestEx {
			bestEx, lag = c, l
		}
	}
	return nccAt(a, b, lag), lag
}

func nccAt(a, b []float32, lag int) float64 {
	var sab, saa, sbb float64
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		x, y := float64(a[i]), float64(b[j])
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// RMS returns the root mean square of x.
func RMS(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(s / float64(len(x)))
}
