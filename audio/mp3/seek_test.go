package mp3

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
)

// A chirp (unambiguous lag) whose loudness changes over time, so VBR frame
// sizes vary and a byte-average seek would miss.
const exprSeek = "if(lt(t,3),0.03,0.45)*sin(2*PI*(80*t+400*t*t))|if(lt(t,3),0.03,0.45)*sin(2*PI*(3000*t-150*t*t))"

// TestSeekSample seeks with the Xing TOC, by CBR frame size and, without any
// header, by scanning frame headers; after each seek it compares what
// ReadPCM delivers with ffmpeg's decode at the returned position.
func TestSeekSample(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "seek", exprSeek, 44100, 2, 6)
	cases := []struct {
		name      string
		opts      []string
		tolerance int64 // samples
	}{
		{"vbr-toc", []string{"-q:a", "2"}, 1152},
		{"vbr-no-toc", []string{"-q:a", "2", "-write_xing", "0"}, 44100 * 50 / 1000},
		{"cbr", []string{"-b:a", "128k"}, 1152},
		{"cbr-no-header", []string{"-b:a", "128k", "-write_xing", "0"}, 1152},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := encode(t, src, filepath.Join(dir, tc.name+".mp3"), tc.opts...)
			ref := audiotest.Decode(t, p, 0, 0).Samples
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, err := NewDecoder(f)
			if err != nil {
				t.Fatal(err)
			}
			const ch = 2
			buf := make([]float32, 4096*ch)
			// Forward, backward and repeated targets, in samples; then, once
			// everything has been read (and so indexed), seeks are exact.
			targets := []int64{44100 * 5, 44100, 0, 44100*4 + 123, 133333, 44100 * 5, 250000, -1, 250000, 111111}
			exact := false
			for _, target := range targets {
				if target < 0 { // play the whole stream from the start
					if _, err := d.SeekSample(0); err != nil {
						t.Fatal(err)
					}
					readRest(t, d)
					exact = true
					continue
				}
				pos, err := d.SeekSample(target)
				if err != nil {
					t.Fatalf("SeekSample(%d): %v", target, err)
				}
				n := 0
				for n < len(buf) {
					k, err := d.ReadPCM(buf[n:])
					n += k
					if err != nil {
						break
					}
				}
				got := buf[:n]
				if len(got) < 2048*ch {
					t.Fatalf("after SeekSample(%d) only %d samples", target, len(got)/ch)
				}
				window := got[:2048*ch]
				// Where in ffmpeg's decode does our output really start?
				maxLag := int(tc.tolerance) + 1200
				lo := max(int(pos)-maxLag, 0)
				best, bestC := -1, -2.0
				for start := lo; start <= int(pos)+maxLag && (start+2048)*ch <= len(ref); start++ {
					if c := ncc(window, ref[start*ch:(start+2048)*ch], ch, 0); c > bestC {
						best, bestC = start, c
					}
				}
				if bestC < 0.99 {
					t.Fatalf("SeekSample(%d) = %d: output matches ffmpeg's decode nowhere nearby (best %.3f at %d)", target, pos, bestC, best)
				}
				if exact && (int64(best) != target || pos != target) {
					t.Errorf("SeekSample(%d) in an indexed stream: reported %d, landed at %d", target, pos, best)
				}
				if e := absI64(int64(best) - target); e > tc.tolerance {
					t.Errorf("SeekSample(%d) landed at %d (reported %d): off by %d samples, limit %d", target, best, pos, e, tc.tolerance)
				}
				if e := absI64(int64(best) - pos); e > tc.tolerance {
					t.Errorf("SeekSample(%d) reported %d but output starts at %d", target, pos, best)
				}
				t.Logf("target %d reported %d actual %d (ncc %.4f)", target, pos, best, bestC)
			}
		})
	}
}
