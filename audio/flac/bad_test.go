package flac

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestNotFLAC feeds inputs that are not FLAC.
func TestNotFLAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 5000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":     nil,
		"short":     []byte("fL"),
		"random":    noise,
		"wav":       append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), noise[:100]...),
		"id3_only":  []byte("ID3\x04\x00\x00\x00\x00\x00\x10" + string(noise[:16])),
		"bad_id3":   []byte("ID3\x04\x00\x00\x80\x80\x80\x80"),
		"no_sinfo":  append([]byte("fLaC\x81\x00\x00\x04"), 0, 0, 0, 0),
		"short_si":  []byte("fLaC\x80\x00\x00\x22\x10\x00"),
		"bad_si":    append([]byte("fLaC\x80\x00\x00\x10"), noise[:16]...),
		"zero_rate": append([]byte("fLaC\x80\x00\x00\x22\x10\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xf0"), make([]byte, 24)...),
	}
	for name, in := range cases {
		_, err := NewDecoder(bytes.NewReader(in))
		if err == nil {
			t.Errorf("%s: NewDecoder accepted it", name)
		}
	}
	if _, err := NewDecoder(bytes.NewReader(noise)); !errors.Is(err, errMissingMarker) || err.Error() != "flac: missing fLaC marker" {
		t.Errorf("random bytes: error %v, want flac: missing fLaC marker", err)
	}
}

// TestGarbageFrames puts random bytes after valid metadata: decoding finds no
// good frame and ends with io.EOF.
func TestGarbageFrames(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 8000, channels: 2, seconds: 0.2}, 16, 5)
	data := readFile(t, path)
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	head := data[:d.firstFrame]
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		in := bytes.Clone(head)
		for range 20000 {
			b := byte(rng.Uint32())
			if trial%2 == 0 && rng.IntN(50) == 0 {
				in = append(in, 0xFF, 0xF8) // plenty of false syncs
				continue
			}
			in = append(in, b)
		}
		d, err := NewDecoder(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		got := readAllSamples(t, d)
		if len(got) != 0 {
			t.Fatalf("trial %d: %d samples decoded from random bytes", trial, len(got))
		}
	}
}

// TestTruncated cuts a file at every 64th byte: each cut either fails in
// NewDecoder (inside the metadata) or decodes a prefix of the real samples
// and ends with io.EOF.
func TestTruncated(t *testing.T) {
	path := flacCLI(t, source{rate: 8000, channels: 2, seconds: 0.6}, 16, "-5", "-b", "576")
	data := readFile(t, path)
	ref := reference(t, path, 16)
	full, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	prefixes := 0
	for cut := 0; cut < len(data); cut += 64 {
		for _, r := range []io.Reader{bytes.NewReader(data[:cut]), onlyReader{bytes.NewReader(data[:cut])}} {
			d, err := NewDecoder(r)
			if err != nil {
				if int64(cut) >= full.firstFrame {
					t.Fatalf("cut at %d (after the metadata): %v", cut, err)
				}
				continue
			}
			got := readAllSamples(t, d)
			if i := firstDiff(got, ref[:min(len(got), len(ref))]); i >= 0 {
				t.Fatalf("cut at %d: sample %d differs", cut, i)
			}
			if len(got) > 0 {
				prefixes++
			}
		}
	}
	if prefixes == 0 {
		t.Fatal("no truncated file decoded any samples")
	}
}

// TestCorruptFrames flips bytes inside frames: the decoder skips the bad
// frames, keeps the track's length by filling them with silence, and the
// audio after them is exact.
func TestCorruptFrames(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 44100, channels: 2, seconds: 3}, 16, 5)
	data := readFile(t, path)
	ref := reference(t, path, 16)
	d0, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	audio := int(d0.firstFrame)
	span := len(data) - audio
	for _, spots := range [][]float64{{0.3}, {0.2, 0.5, 0.51, 0.8}, {0.1, 0.1001, 0.1002}} {
		bad := bytes.Clone(data)
		for _, f := range spots {
			i := audio + int(f*float64(span))
			bad[i] ^= 0x5A
			bad[i+1] = 0xFF // sometimes a false sync as well
		}
		d, err := NewDecoder(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		got := readAllSamples(t, d)
		if d.Skipped() == 0 {
			t.Fatalf("spots %v: no frame reported corrupt", spots)
		}
		if len(got) != len(ref) {
			t.Fatalf("spots %v: %d samples, want %d (track length must survive)", spots, len(got), len(ref))
		}
		wrong := 0
		for i := range got {
			if got[i] != ref[i] {
				wrong++
			}
		}
		if limit := len(spots) * 2 * d.maxBlock * 2; wrong > limit {
			t.Fatalf("spots %v: %d wrong samples, more than %d", spots, wrong, limit)
		}
		tail := len(ref) * 9 / 10
		if i := firstDiff(got[tail:], ref[tail:]); i >= 0 {
			t.Fatalf("spots %v: sample %d after the damage differs", spots, tail+i)
		}
	}
}
