package readbuf

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var errNoSeek = errors.New("test: input is not seekable")

// liveSeeker has a Seek method but says it cannot seek, like a live source.
type liveSeeker struct{ *bytes.Reader }

func (liveSeeker) Seekable() bool { return false }

func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// TestReadSkipSeek reads, skips and seeks through inputs of every kind and
// checks each byte against its offset.
func TestReadSkipSeek(t *testing.T) {
	src := data(10000)
	for _, tc := range []struct {
		name     string
		r        io.Reader
		seekable bool
	}{
		{"seekable", bytes.NewReader(src), true},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(src)), false},
		{"claims no seek", liveSeeker{bytes.NewReader(src)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.r, 256, "test", errNoSeek)
			if b.Seekable() != tc.seekable {
				t.Fatalf("Seekable %v, want %v", b.Seekable(), tc.seekable)
			}
			if got := b.Peek(10); !bytes.Equal(got, src[:10]) || b.Offset() != 0 {
				t.Fatalf("Peek %x at %d", got, b.Offset())
			}
			dst := make([]byte, 300) // more than the buffer holds
			if err := b.ReadFull(dst); err != nil || !bytes.Equal(dst, src[:300]) {
				t.Fatalf("ReadFull: %v", err)
			}
			if err := b.Skip(5000); err != nil || b.Offset() != 5300 {
				t.Fatalf("Skip: %v, at %d", err, b.Offset())
			}
			if !b.Fill(200) || !bytes.Equal(b.Buffered()[:200], src[5300:5500]) {
				t.Fatal("Fill after Skip")
			}
			err := b.SeekTo(100)
			if !tc.seekable {
				if err != errNoSeek {
					t.Fatalf("SeekTo on an input that cannot seek: %v", err)
				}
				return
			}
			if err != nil || b.Offset() != 100 || !bytes.Equal(b.Peek(4), src[100:104]) {
				t.Fatalf("SeekTo(100): %v", err)
			}
			if err := b.SeekTo(150); err != nil || !bytes.Equal(b.Peek(4), src[150:154]) {
				t.Fatalf("SeekTo inside the buffer: %v", err)
			}
			if n, err := b.Size(); err != nil || n != int64(len(src)) {
				t.Fatalf("Size = %d, %v", n, err)
			}
			if err := b.SeekTo(9990); err != nil {
				t.Fatal(err)
			}
			if err := b.ReadFull(dst[:20]); err != io.EOF || !b.Done() {
				t.Fatalf("ReadFull past the end: %v", err)
			}
		})
	}
}

// TestReadError: a read error is sticky and reported with the prefix; the
// end of input is plain io.EOF.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	b := New(io.MultiReader(bytes.NewReader(data(10)), iotest.ErrReader(boom)), 64, "test", errNoSeek)
	if b.Fill(20) || len(b.Buffered()) != 10 {
		t.Fatalf("Fill past a read error buffered %d bytes", len(b.Buffered()))
	}
	err := b.EndErr()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "test: reading: ") {
		t.Fatalf("EndErr = %v", err)
	}
	if err := b.Skip(100); !errors.Is(err, boom) {
		t.Fatalf("Skip past a read error: %v", err)
	}
}
