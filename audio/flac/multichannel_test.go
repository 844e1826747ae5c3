package flac

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

// TestMultichannel decodes 3- to 8-channel files from ffmpeg: ReadSamples must
// match ffmpeg bit for bit on every channel, and ReadPCM's stereo downmix must
// follow ffmpeg's own stereo downmix closely (normalized cross-correlation).
func TestMultichannel(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	layouts := map[int]string{3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
	for n := 3; n <= 8; n++ {
		t.Run(fmt.Sprintf("%dch", n), func(t *testing.T) {
			t.Parallel()
			var exprs []string
			for c := range n {
				exprs = append(exprs, fmt.Sprintf("0.3*sin(2*PI*%d*t)+0.02*(random(%d)-0.5)", 200+97*c, c))
			}
			path := filepath.Join(t.TempDir(), "mc.flac")
			run(t, ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
				"-i", "aevalsrc="+strings.Join(exprs, "|")+":s=48000:d=0.3:channel_layout="+layouts[n],
				"-c:a", "flac", "-sample_fmt", "s16", "-y", path)
			data := readFile(t, path)
			ref := reference(t, path, 16)
			d, got := decodeAll(t, data)
			if d.StreamChannels() != n || d.Channels() != 2 {
				t.Fatalf("StreamChannels %d Channels %d, want %d and 2", d.StreamChannels(), d.Channels(), n)
			}
			if i := firstDiff(got, ref); i >= 0 {
				t.Fatalf("decoded %d samples, ffmpeg %d; first difference at %d", len(got), len(ref), i)
			}
			if sum := pcmMD5(got, 16); sum != d.MD5() {
				t.Fatal("MD5 mismatch")
			}
			mix := decodeFloat(t, data, 4096)
			if len(mix) != 2*len(got)/n {
				t.Fatalf("downmix has %d samples, want %d", len(mix), 2*len(got)/n)
			}
			raw := run(t, ff, "-hide_banner", "-loglevel", "error", "-i", path, "-ac", "2", "-f", "f32le", "-")
			want := make([]float32, len(raw)/4)
			for i := range want {
				want[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
			}
			for side := range 2 {
				c := correlation(mix, want, side)
				if c < 0.95 {
					t.Errorf("channel %d of the downmix correlates %.3f with ffmpeg's", side, c)
				}
			}
		})
	}
}

// correlation is the normalized cross-correlation of channel side of two
// interleaved stereo signals.
func correlation(a, b []float32, side int) float64 {
	var ab, aa, bb float64
	for i := side; i < min(len(a), len(b)); i += 2 {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
