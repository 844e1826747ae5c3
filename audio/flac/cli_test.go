package flac

import (
	"strings"
	"testing"
)

// TestDecodeMatchesReferenceEncoder decodes files made by the reference
// encoder (flac 1.4) with settings ffmpeg never uses: all compression levels,
// explicit 8/16-bit block sizes, uncommon sample rates coded at the end of the
// frame header, LPC order 32, wasted bits, silence, noise and 32-bit audio.
func TestDecodeMatchesReferenceEncoder(t *testing.T) {
	cases := []struct {
		name string
		src  source
		expr string // overrides the source's signal when set
		bits int
		args []string
	}{
		{name: "level0", src: source{rate: 44100, channels: 2, seconds: 0.6}, bits: 16, args: []string{"-0"}},
		{name: "level5", src: source{rate: 44100, channels: 2, seconds: 0.6}, bits: 16, args: []string{"-5"}},
		{name: "level8", src: source{rate: 44100, channels: 2, seconds: 0.6}, bits: 16, args: []string{"-8"}},
		{name: "level8_24bit_96k", src: source{rate: 96000, channels: 2, seconds: 0.5}, bits: 24, args: []string{"-8"}},
		{name: "level8_24bit_mono", src: source{rate: 48000, channels: 1, seconds: 0.5}, bits: 24, args: []string{"-8", "-p", "-e"}},
		{name: "blocksize8bit", src: source{rate: 22050, channels: 2, seconds: 0.3}, bits: 16, args: []string{"-b", "100"}},
		{name: "blocksize16bit", src: source{rate: 44100, channels: 1, seconds: 0.3}, bits: 16, args: []string{"-b", "1000"}},
		{name: "blocksize192", src: source{rate: 8000, channels: 1, seconds: 0.3}, bits: 16, args: []string{"-b", "192"}},
		{name: "blocksize16384_lpc32", src: source{rate: 44100, channels: 2, seconds: 0.8}, bits: 16, args: []string{"--lax", "-b", "16384", "-l", "32"}},
		{name: "blocksize65535", src: source{rate: 44100, channels: 2, seconds: 1.6}, bits: 24, args: []string{"--lax", "-b", "65535", "-8"}},
		{name: "rate11025", src: source{rate: 11025, channels: 1, seconds: 0.5}, bits: 16, args: []string{"-5"}},
		{name: "rate12000", src: source{rate: 12000, channels: 2, seconds: 0.5}, bits: 16, args: []string{"-5"}},
		{name: "rate100000", src: source{rate: 100000, channels: 1, seconds: 0.3}, bits: 24, args: []string{"--lax", "-5"}},
		{name: "rate88200_16bit", src: source{rate: 88200, channels: 2, seconds: 0.3}, bits: 16, args: []string{"-5"}},
		{name: "wasted_bits", src: source{rate: 44100, channels: 2, seconds: 0.4}, bits: 16, args: []string{"-5"},
			expr: "floor(0.5*sin(2*PI*440*t)*512)/512|floor(0.3*sin(2*PI*220*t)*64)/64"},
		{name: "silence", src: source{rate: 44100, channels: 2, seconds: 0.4}, bits: 16, args: []string{"-5"}, expr: "0|0"},
		{name: "noise", src: source{rate: 44100, channels: 2, seconds: 0.4}, bits: 16, args: []string{"-8"}, expr: "random(0)*2-1|random(1)*2-1"},
		{name: "noise_24bit", src: source{rate: 48000, channels: 1, seconds: 0.4}, bits: 24, args: []string{"-8"}, expr: "random(0)*2-1"},
		{name: "32bit_stereo", src: source{rate: 48000, channels: 2, seconds: 0.4}, bits: 32, args: []string{"-8"}},
		{name: "32bit_mono_noise", src: source{rate: 48000, channels: 1, seconds: 0.2}, bits: 32, args: []string{"-5"}, expr: "random(0)*2-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := c.src
			path := flacCLIExpr(t, src, c.expr, c.bits, c.args...)
			ref := flacReference(t, path, c.bits)
			checkAgainst(t, path, src.rate, src.channels, c.bits, ref, "flac -d")
		})
	}
}

// flacCLIExpr is flacCLI with an optional custom aevalsrc expression.
func flacCLIExpr(t *testing.T, src source, expr string, bits int, args ...string) string {
	t.Helper()
	if expr == "" {
		return flacCLI(t, src, bits, args...)
	}
	if n := strings.Count(expr, "|") + 1; n != src.channels {
		t.Fatalf("expression has %d channels, source %d", n, src.channels)
	}
	src.custom = expr
	return flacCLI(t, src, bits, args...)
}
