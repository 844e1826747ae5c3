package flac

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestSeekSample seeks to exact samples, with and without a SEEKTABLE, and
// compares what follows with ffmpeg's full decode.
func TestSeekSample(t *testing.T) {
	cases := []struct {
		name      string
		bits      int
		make      func(t *testing.T) string
		wantTable bool
	}{
		{"ffmpeg_no_table", 16, func(t *testing.T) string {
			return ffmpegFLAC(t, source{rate: 44100, channels: 2, seconds: 4}, 16, 5)
		}, false},
		{"flac_table_16bit", 16, func(t *testing.T) string {
			return flacCLI(t, source{rate: 44100, channels: 2, seconds: 4}, 16, "-5", "-S", "0.5s")
		}, true},
		{"flac_table_24bit_mono", 24, func(t *testing.T) string {
			return flacCLI(t, source{rate: 48000, channels: 1, seconds: 5}, 24, "-8", "-S", "1s")
		}, true},
		{"flac_sparse_table", 16, func(t *testing.T) string {
			return flacCLI(t, source{rate: 22050, channels: 2, seconds: 6}, 16, "-5", "-S", "4s")
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := c.make(t)
			data := readFile(t, path)
			ref := reference(t, path, c.bits)
			d, err := NewDecoder(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(d.seekTable) > 0; got != c.wantTable {
				t.Fatalf("seek table present = %v, want %v", got, c.wantTable)
			}
			ch := d.Channels()
			total := int64(len(ref) / ch)
			if d.Duration() != total {
				t.Fatalf("Duration() = %d, want %d", d.Duration(), total)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			targets := []int64{0, 1, 4095, 4096, 4097, total / 2, total - 1, 0, total - 4096}
			for range 25 {
				targets = append(targets, rng.Int64N(total))
			}
			buf := make([]int32, 700*ch)
			for _, s := range targets {
				got, err := d.SeekSample(s)
				if err != nil || got != s {
					t.Fatalf("SeekSample(%d) = %d, %v", s, got, err)
				}
				n, err := readFull(d, buf)
				want := ref[s*int64(ch):]
				if len(want) > len(buf) {
					want = want[:len(buf)]
				}
				if n != len(want) || (err != nil && !errors.Is(err, io.EOF)) {
					t.Fatalf("after SeekSample(%d): read %d samples (%v), want %d", s, n, err, len(want))
				}
				if i := firstDiff(buf[:n], want); i >= 0 {
					t.Fatalf("after SeekSample(%d): sample %d differs: %d, want %d", s, i, buf[i], want[i])
				}
			}
			// Past the end: a clear error wrapping io.EOF, and the decoder
			// still seeks afterwards.
			if _, err := d.SeekSample(total); !errors.Is(err, io.EOF) {
				t.Fatalf("SeekSample(total) error = %v, want io.EOF", err)
			}
			if _, err := d.SeekSample(-1); err == nil {
				t.Fatal("SeekSample(-1) succeeded")
			}
			if got, err := d.SeekSample(10); err != nil || got != 10 {
				t.Fatalf("SeekSample(10) after errors = %d, %v", got, err)
			}
		})
	}
}

// TestSeekAfterEOF reads to the end, then seeks back.
func TestSeekAfterEOF(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 16000, channels: 1, seconds: 1}, 16, 5)
	ref := reference(t, path, 16)
	d, err := NewDecoder(bytes.NewReader(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 4096)
	for {
		if _, err := d.ReadPCM(buf); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	if _, err := d.SeekSample(5000); err != nil {
		t.Fatal(err)
	}
	n, err := d.ReadPCM(buf[:1])
	if err != nil || n != 1 || int32(buf[0]*32768) != ref[5000] {
		t.Fatalf("after seek back: %d samples (%v), value %v, want %d", n, err, buf[0]*32768, ref[5000])
	}
}

// TestSeekNotSeekable checks the error for plain readers.
func TestSeekNotSeekable(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 8000, channels: 1, seconds: 0.2}, 16, 5)
	d, err := NewDecoder(onlyReader{bytes.NewReader(readFile(t, path))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SeekSample(0); !errors.Is(err, errNotSeekable) {
		t.Fatalf("SeekSample on a plain reader: %v", err)
	}
}

// onlyReader hides every method but Read.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// readFull fills buf with ReadSamples until it is full or the stream ends.
func readFull(d *Decoder, buf []int32) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := d.ReadSamples(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
