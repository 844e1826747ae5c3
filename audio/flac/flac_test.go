package flac

import (
	"fmt"
	"testing"
)

// TestDecodeMatchesFFmpeg decodes files made by ffmpeg's encoder across
// sample rates, bit depths, channel counts and compression levels and requires
// bit-exact samples, exact length and the STREAMINFO MD5.
func TestDecodeMatchesFFmpeg(t *testing.T) {
	type tc struct {
		rate, channels, bits, level int
	}
	var cases []tc
	// Every rate in both bit depths; channel counts alternate so that each
	// depth meets mono and stereo across the rates.
	for i, rate := range []int{8000, 16000, 22050, 44100, 48000, 88200, 96000} {
		cases = append(cases, tc{rate, 1 + i%2, 16, 5}, tc{rate, 2 - i%2, 24, 5})
	}
	cases = append(cases,
		tc{44100, 2, 16, 0}, tc{48000, 1, 24, 0},
		tc{44100, 2, 24, 8}, tc{48000, 1, 16, 8}, tc{96000, 2, 24, 8})
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dHz_%dch_%dbit_level%d", c.rate, c.channels, c.bits, c.level), func(t *testing.T) {
			t.Parallel()
			path := ffmpegFLAC(t, source{rate: c.rate, channels: c.channels, seconds: 0.4}, c.bits, c.level)
			checkFile(t, path, c.rate, c.channels, c.bits)
		})
	}
}

// checkFile decodes path and compares everything a user could notice with
// ffmpeg's decode of the same file.
func checkFile(t *testing.T, path string, rate, channels, bits int) {
	t.Helper()
	checkAgainst(t, path, rate, channels, bits, reference(t, path, bits), "ffmpeg")
}

// checkAgainst decodes path and compares it with ref, decoded by judge.
func checkAgainst(t *testing.T, path string, rate, channels, bits int, ref []int32, judge string) {
	t.Helper()
	data := readFile(t, path)
	d, got := decodeAll(t, data)
	if d.SampleRate() != rate || d.Channels() != channels || d.BitDepth() != bits {
		t.Fatalf("format %d Hz %d ch %d bit, want %d Hz %d ch %d bit",
			d.SampleRate(), d.Channels(), d.BitDepth(), rate, channels, bits)
	}
	if i := firstDiff(got, ref); i >= 0 {
		t.Fatalf("decoded %d samples, %s %d; first difference at %d", len(got), judge, len(ref), i)
	}
	if d.Duration() != int64(len(ref)/channels) {
		t.Errorf("Duration() = %d, want %d", d.Duration(), len(ref)/channels)
	}
	if sum := pcmMD5(got, bits); sum != d.MD5() {
		t.Errorf("MD5 of decoded samples %x, STREAMINFO says %x", sum, d.MD5())
	}
	// The float path must carry the same integers, scaled by 2^(bits-1).
	f := decodeFloat(t, data, 4096+channels)
	if len(f) != len(ref) {
		t.Fatalf("ReadPCM gave %d samples, want %d", len(f), len(ref))
	}
	if bits > 24 {
		return // float32 cannot hold every 32-bit integer
	}
	scale := float32(int64(1) << (bits - 1))
	for i, v := range f {
		if v < -1 || v > 1 || int32(v*scale) != ref[i] {
			t.Fatalf("ReadPCM sample %d = %v, want %d/2^%d", i, v, ref[i], bits-1)
		}
	}
}

// TestStereoModes forces each stereo decorrelation mode in ffmpeg's encoder.
func TestStereoModes(t *testing.T) {
	for _, mode := range []string{"indep", "left_side", "right_side", "mid_side"} {
		for _, bits := range []int{16, 24} {
			if bits == 24 && mode != "mid_side" {
				continue
			}
			t.Run(fmt.Sprintf("%s_%dbit", mode, bits), func(t *testing.T) {
				t.Parallel()
				path := ffmpegFLAC(t, source{rate: 44100, channels: 2, seconds: 0.5}, bits, 5, "-ch_mode", mode)
				checkFile(t, path, 44100, 2, bits)
			})
		}
	}
}
