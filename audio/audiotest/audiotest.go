// Package audiotest makes test audio and judges audio that Quaver produced:
// generated signals (tones, sweeps, noise, music-like mixes), WAV writing,
// conversion and decoding through ffmpeg as an independent reference, and
// alignment plus normalized cross-correlation to compare what came out with
// what went in. Tests across the project share it; it is not used in production.
package audiotest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// FfmpegFile runs ffmpeg with args writing to a new file named name in t's
// temporary directory (the output options, such as -f, go in args), and
// returns the file's path and bytes.
func FfmpegFile(t testing.TB, name string, args ...string) (string, []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	Ffmpeg(t, append(args, out)...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, data
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

// Decode has ffmpeg decode any file to float PCM at rate and channels; a rate
// or channel count of 0 keeps the file's own (the Signal then leaves it 0).
func Decode(t testing.TB, path string, rate, channels int) Signal {
	t.Helper()
	bin := testenv.Tool(t, "ffmpeg")
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-f", "f32le"}
	if channels > 0 {
		args = append(args, "-ac", fmt.Sprint(channels))
	}
	if rate > 0 {
		args = append(args, "-ar", fmt.Sprint(rate))
	}
	cmd := exec.Command(bin, append(args, "-")...)
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

// PacketReader is what the Opus demuxers (ogg, webm) offer.
type PacketReader interface {
	ReadPacket() ([]byte, error)
}

// ReadPackets reads r to io.EOF and returns copies of its packets, failing t
// on any other error.
func ReadPackets(t testing.TB, r PacketReader) [][]byte {
	t.Helper()
	var pk [][]byte
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			return pk
		}
		if err != nil {
			t.Fatalf("ReadPacket after %d packets: %v", len(pk), err)
		}
		pk = append(pk, bytes.Clone(p))
	}
}

// PacketAllocs returns how many allocations one ReadPacket of r makes in
// steady state (after 10 packets, over 500 more), failing t if r ends or
// fails before.
func PacketAllocs(t testing.TB, r PacketReader) float64 {
	t.Helper()
	for range 10 {
		if _, err := r.ReadPacket(); err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
	}
	return testing.AllocsPerRun(500, func() {
		if _, err := r.ReadPacket(); err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
	})
}

// UnsupportedCodec fails t unless err reads exactly "unsupported codec: NAME"
// and is an E, the package's UnsupportedCodecError type.
func UnsupportedCodec[E error](t testing.TB, err error, name string) {
	t.Helper()
	if err == nil || err.Error() != "unsupported codec: "+name {
		t.Fatalf("err = %v, want unsupported codec: %s", err, name)
	}
	var e E
	if !errors.As(err, &e) {
		t.Errorf("error is %T, not %T", err, e)
	}
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
