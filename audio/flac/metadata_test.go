package flac

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

// TestLargePicture decodes a file whose PICTURE block holds a multi-megabyte
// cover (ffmpeg attached_pic) and checks that, from an io.Seeker, the picture
// is skipped by seeking rather than read.
func TestLargePicture(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	audio := ffmpegFLAC(t, source{rate: 44100, channels: 2, seconds: 0.5}, 16, 5)
	pic := filepath.Join(dir, "cover.png")
	run(t, ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "nullsrc=s=1000x1000,geq=r='random(1)*255':g='random(2)*255':b='random(3)*255'",
		"-frames:v", "1", "-y", pic)
	out := filepath.Join(dir, "withpic.flac")
	run(t, ff, "-hide_banner", "-loglevel", "error", "-i", audio, "-i", pic,
		"-map", "0:a", "-map", "1:v", "-c", "copy", "-disposition:v", "attached_pic", "-y", out)
	picInfo, err := os.Stat(pic)
	if err != nil {
		t.Fatal(err)
	}
	if picInfo.Size() < 1<<20 {
		t.Fatalf("cover is only %d bytes; want a large one", picInfo.Size())
	}
	ref := reference(t, out, 16)
	data := readFile(t, out)

	// From a seeker: decode everything and count the bytes actually read.
	cr := &countingReader{r: bytes.NewReader(data)}
	d, err := NewDecoder(cr)
	if err != nil {
		t.Fatal(err)
	}
	got := readAllSamples(t, d)
	if i := firstDiff(got, ref); i >= 0 {
		t.Fatalf("with picture: %d samples, want %d, first difference at %d", len(got), len(ref), i)
	}
	if limit := int64(len(data)) - picInfo.Size()/2; cr.n > limit {
		t.Fatalf("read %d of %d bytes: the %d-byte picture was read, not skipped", cr.n, len(data), picInfo.Size())
	}

	// From a plain reader the picture is read through and discarded.
	d, err = NewDecoder(onlyReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAllSamples(t, d); firstDiff(got, ref) >= 0 {
		t.Fatal("plain reader: samples differ")
	}
}

// TestID3Prefix decodes a FLAC file preceded by an ID3v2 tag (with footer).
func TestID3Prefix(t *testing.T) {
	path := ffmpegFLAC(t, source{rate: 22050, channels: 1, seconds: 0.4}, 16, 5)
	ref := reference(t, path, 16)
	body := make([]byte, 3000)
	copy(body, "TIT2\x00\x00\x00\x05\x00\x00\x03song")
	// ID3v2.4 header: "ID3", version 4.0, flags (0x10: footer present),
	// syncsafe size of the tag body; the footer repeats it with "3DI".
	size := []byte{byte(len(body) >> 21 & 0x7F), byte(len(body) >> 14 & 0x7F), byte(len(body) >> 7 & 0x7F), byte(len(body) & 0x7F)}
	var in bytes.Buffer
	in.WriteString("ID3\x04\x00\x10")
	in.Write(size)
	in.Write(body)
	in.WriteString("3DI\x04\x00\x10")
	in.Write(size)
	in.Write(readFile(t, path))
	for name, r := range map[string]io.Reader{
		"seeker": bytes.NewReader(in.Bytes()),
		"reader": onlyReader{bytes.NewReader(in.Bytes())},
	} {
		d, err := NewDecoder(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := readAllSamples(t, d); firstDiff(got, ref) >= 0 {
			t.Fatalf("%s: samples differ after ID3 tag", name)
		}
	}
}

// countingReader counts the bytes read through it and passes seeks on.
type countingReader struct {
	r *bytes.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

// readAllSamples decodes d to the end with ReadSamples.
func readAllSamples(t testing.TB, d *Decoder) []int32 {
	t.Helper()
	var out []int32
	buf := make([]int32, 4096)
	for {
		n, err := d.ReadSamples(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadSamples: %v", err)
		}
	}
}
