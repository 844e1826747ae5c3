package flac

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"
)

// FuzzDecoder feeds arbitrary bytes to NewDecoder, ReadPCM and SeekSample:
// nothing may panic or hang, output must come in whole sample frames within
// [-1, 1], and errors must be reported as errors.
func FuzzDecoder(f *testing.F) {
	for _, sp := range handmadeStreams() {
		data := sp.build()
		if len(data) > 8<<10 {
			data = data[:8<<10]
		}
		f.Add(data)
	}
	// Small files from ffmpeg's encoder when it is installed (go test runs
	// the seeds even without -fuzz, so keep them tiny).
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		for _, args := range [][]string{
			{"-ac", "1", "-ar", "8000", "-sample_fmt", "s16"},
			{"-ac", "2", "-ar", "8000", "-sample_fmt", "s32", "-bits_per_raw_sample", "24"},
		} {
			cmd := exec.Command(ff, append(append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi",
				"-i", "sine=frequency=300:duration=0.1"}, args...), "-c:a", "flac", "-f", "flac", "-")...)
			if out, err := cmd.Output(); err == nil {
				f.Add(out)
			}
		}
	}
	f.Add([]byte("fLaC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		ch := d.Channels()
		if ch < 1 || ch > 2 || d.SampleRate() <= 0 || d.BitDepth() < 4 || d.BitDepth() > 32 {
			t.Fatalf("accepted format %d ch %d Hz %d bit", ch, d.SampleRate(), d.BitDepth())
		}
		buf := make([]float32, 4096)
		check := func() {
			for range 10000 {
				n, err := d.ReadPCM(buf)
				if n%ch != 0 || n < 0 || n > len(buf) {
					t.Fatalf("ReadPCM returned %d samples for %d channels", n, ch)
				}
				for _, v := range buf[:n] {
					if !(v >= -1 && v <= 1) {
						t.Fatalf("sample %v out of range", v)
					}
				}
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Fatalf("ReadPCM error on an in-memory reader: %v", err)
				}
			}
		}
		check()
		for _, s := range []int64{0, 1, 5000, d.Duration() / 2} {
			if _, err := d.SeekSample(s); err != nil {
				continue
			}
			check()
		}
	})
}
