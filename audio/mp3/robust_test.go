package mp3

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/audio/audiotest"
)

// smallMP3 encodes a short stereo music-like clip.
func smallMP3(t testing.TB, dir string, opts ...string) []byte {
	t.Helper()
	src := genSource(t, dir, "small", exprMusic, 44100, 2, 0.3)
	p := encode(t, src, filepath.Join(dir, "small.mp3"), opts...)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// drain decodes everything, bounded so a hang fails instead of spinning.
func drain(t testing.TB, data []byte) (samples int, err error) {
	t.Helper()
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	buf := make([]float32, 1000)
	for i := 0; i < 1_000_000; i++ {
		n, err := d.ReadPCM(buf)
		samples += n
		if err != nil {
			return samples, err
		}
	}
	t.Fatalf("ReadPCM never ended")
	return 0, nil
}

func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 3, 4, 100, 4096, 64 << 10} {
		data := make([]byte, n)
		rng.Read(data)
		if _, err := NewDecoder(bytes.NewReader(data)); !errors.Is(err, errNoFrame) {
			t.Errorf("%d random bytes: error %v, want %v", n, err, errNoFrame)
		}
	}
	if _, err := NewDecoder(bytes.NewReader(nil)); err == nil || err.Error() != "mp3: no MPEG audio frame found" {
		t.Errorf("empty input: %v", err)
	}
}

// TestTruncated cuts a small file at every 64th byte: no panic, no hang, and
// a decodable prefix yields samples and then io.EOF.
func TestTruncated(t *testing.T) {
	data := smallMP3(t, t.TempDir(), "-b:a", "128k")
	full, err := drain(t, data)
	if !errors.Is(err, io.EOF) || full == 0 {
		t.Fatalf("full file: %d samples, %v", full, err)
	}
	for cut := 0; cut <= len(data); cut += 64 {
		n, err := drain(t, data[:cut])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errNoFrame) {
			t.Fatalf("cut at %d: unexpected error %v", cut, err)
		}
		if n > full {
			t.Fatalf("cut at %d: %d samples, more than the whole file's %d", cut, n, full)
		}
	}
}

// TestCorruptMiddle overwrites a stretch in the middle: decoding resyncs and
// the rest of the audio still comes out.
func TestCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "long", exprMusic, 44100, 2, 2)
	p := encode(t, src, filepath.Join(dir, "long.mp3"), "-b:a", "128k")
	data, _ := os.ReadFile(p)
	ref := audiotest.Decode(t, p, 0, 0).Samples
	bad := bytes.Clone(data)
	rng := rand.New(rand.NewSource(2))
	mid := len(bad) / 2
	rng.Read(bad[mid : mid+1500])
	d, err := NewDecoder(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	got := readRest(t, d)
	if absI64(int64(len(got)-len(ref))/2) > 5*1152 {
		t.Fatalf("decoded %d samples after corruption, want about %d", len(got)/2, len(ref)/2)
	}
	// Audio well after the damaged stretch must match ffmpeg's decode of the
	// intact file, shifted by the frames that were lost.
	const win = 4096
	at := len(got)/2 - 22050
	a := got[at*2 : (at+win)*2]
	best := -1.0
	for lag := -8 * 1152; lag <= 8*1152; lag++ {
		o := at + lag
		if o < 0 || o+win > len(ref)/2 {
			continue
		}
		best = max(best, ncc(a, ref[o*2:(o+win)*2], 2, 0))
	}
	if best < 0.99 {
		t.Errorf("audio after the damaged stretch does not match the original (ncc %.3f)", best)
	}
}

func TestHeaderOnly(t *testing.T) {
	data := smallMP3(t, t.TempDir(), "-b:a", "128k")
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	infoOnly := data[:d.firstAudio]
	n, err := drain(t, infoOnly)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("Info frame only: %v", err)
	}
	if n != 0 {
		t.Errorf("Info frame only: %d samples", n)
	}
	if _, err := drain(t, data[:4]); !errors.Is(err, errNoFrame) {
		t.Errorf("4-byte header only: %v", err)
	}
	tag := []byte("ID3\x03\x00\x00\x00\x00\x00\x10")
	tag = append(tag, make([]byte, 16)...)
	if _, err := drain(t, tag); !errors.Is(err, errNoFrame) {
		t.Errorf("ID3 tag only: %v", err)
	}
}

func TestFreeFormatRejected(t *testing.T) {
	// Headers with bitrate index 0 (free format), MPEG-1 Layer III 44.1 kHz.
	var data []byte
	for i := 0; i < 8; i++ {
		data = append(data, 0xFF, 0xFB, 0x00, 0x44)
		data = append(data, make([]byte, 400)...)
	}
	if _, err := NewDecoder(bytes.NewReader(data)); !errors.Is(err, errFreeFormat) {
		t.Errorf("free format: %v, want %v", err, errFreeFormat)
	}
}

// TestReadPCMAllocs proves steady-state decoding allocates nothing.
func TestReadPCMAllocs(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "a", exprMusic, 44100, 2, 2)
	p := encode(t, src, filepath.Join(dir, "a.mp3"), "-q:a", "2")
	data, _ := os.ReadFile(p)
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 960*2)
	d.ReadPCM(buf)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := d.ReadPCM(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadPCM allocates %.1f times per call", allocs)
	}
}

func FuzzDecoder(f *testing.F) {
	// Fuzz worker processes rerun this function; the coordinator already has
	// the generated seeds, so only it pays for the ffmpeg runs.
	if dir, err := os.MkdirTemp("", "mp3fuzz"); err == nil && !isFuzzWorker() {
		defer os.RemoveAll(dir)
		if _, err := os.Stat("/usr/bin/ffmpeg"); err == nil || os.Getenv("CI") == "true" {
			for i, opts := range [][]string{
				{"-b:a", "32k"}, {"-q:a", "6", "-ac", "1"}, {"-b:a", "16k", "-ar", "8000"}, {"-b:a", "24k", "-ar", "22050", "-write_xing", "0"},
			} {
				src := genSource(f, dir, "f"+itoa(i), exprTones, 44100, 2, 0.1)
				p := encode(f, src, filepath.Join(dir, "f"+itoa(i)+".mp3"), opts...)
				if data, err := os.ReadFile(p); err == nil {
					f.Add(data)
				}
			}
		}
	}
	f.Add([]byte("ID3\x04\x00\x10\x00\x00\x00\x00\xff\xfb\x90\x44"))
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x44, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d.Channels() != 1 && d.Channels() != 2 {
			t.Fatalf("Channels() = %d", d.Channels())
		}
		buf := make([]float32, 1152*2)
		for i := 0; i < 2000; i++ {
			n, err := d.ReadPCM(buf)
			for _, v := range buf[:n] {
				if !(v >= -1 && v <= 1) {
					t.Fatalf("sample %v", v)
				}
			}
			if err != nil {
				break
			}
			if i == 3 {
				if _, err := d.SeekSample(int64(len(data)) % 5000); err != nil {
					t.Fatalf("SeekSample: %v", err)
				}
			}
		}
	})
}

func isFuzzWorker() bool {
	for _, a := range os.Args {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

// TestNonSeekable: without io.Seeker, decoding works, the duration of a
// header-less CBR stream is unknown and SeekSample says why it cannot seek;
// with a Xing header the duration is still known.
func TestNonSeekable(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "ns", exprTones, 44100, 2, 1)
	for _, tc := range []struct {
		name    string
		opts    []string
		wantDur bool
	}{
		{"no-header", []string{"-b:a", "128k", "-write_xing", "0"}, false},
		{"xing", []string{"-q:a", "4"}, true},
	} {
		p := encode(t, src, filepath.Join(dir, tc.name+".mp3"), tc.opts...)
		data, _ := os.ReadFile(p)
		d, err := NewDecoder(onlyReader{bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Duration() >= 0; got != tc.wantDur {
			t.Errorf("%s: Duration() = %d", tc.name, d.Duration())
		}
		if _, err := d.SeekSample(1000); !errors.Is(err, errNotSeekable) {
			t.Errorf("%s: SeekSample error %v, want %v", tc.name, err, errNotSeekable)
		}
		if n := len(readRest(t, d)) / 2; n < 44100-1152 {
			t.Errorf("%s: decoded only %d samples", tc.name, n)
		}
	}
}

// TestTrailingJunk: a tag full of sync-like bytes after the last frame of a
// header-less stream must not come out as noise.
func TestTrailingJunk(t *testing.T) {
	dir := t.TempDir()
	src := genSource(t, dir, "j", exprTones, 44100, 2, 1)
	p := encode(t, src, filepath.Join(dir, "j.mp3"), "-b:a", "128k", "-write_xing", "0", "-id3v2_version", "0")
	data, _ := os.ReadFile(p)
	_, clean := decodeAll(t, p)
	// A fake frame header (MPEG-1 Layer III 128 kbps 44.1 kHz) inside junk.
	junk := []byte("APETAGEX")
	junk = append(junk, 0xFF, 0xFB, 0x90, 0x64)
	rng := rand.New(rand.NewSource(5))
	tail := make([]byte, 417-4) // the fake frame ends exactly at EOF
	rng.Read(tail)
	junk = append(junk, tail...)
	d, err := NewDecoder(bytes.NewReader(append(bytes.Clone(data), junk...)))
	if err != nil {
		t.Fatal(err)
	}
	got := readRest(t, d)
	if len(got) != len(clean) {
		t.Errorf("junk after the last frame changed the output: %d samples, %d without it", len(got)/2, len(clean)/2)
	}
}
