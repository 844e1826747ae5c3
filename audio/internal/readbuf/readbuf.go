// Package readbuf is the input buffer the container demuxers (audio/ogg,
// audio/webm) share: it reads ahead into one fixed buffer, knows the file
// offset of every buffered byte, and seeks when the input allows it, moving
// inside the buffer without a system call when it can.
package readbuf

import (
	"fmt"
	"io"
)

// Reader buffers an input. It is not safe for concurrent use.
type Reader struct {
	r           io.Reader
	seeker      io.Seeker // nil when r cannot seek
	buf         []byte
	start, end  int   // buf[start:end] holds unread bytes
	off         int64 // file offset of buf[start]
	eof         bool
	err         error // sticky read error other than EOF
	prefix      string
	notSeekable error
}

// New buffers r in size bytes. Errors it makes start with prefix (the
// package name, "ogg"); SeekTo on an input that cannot seek returns
// notSeekable. r seeks when it is an io.Seeker whose Seek works, unless it
// says otherwise with a Seekable() bool method (a live source).
func New(r io.Reader, size int, prefix string, notSeekable error) *Reader {
	b := &Reader{r: r, buf: make([]byte, size), prefix: prefix, notSeekable: notSeekable}
	if s, ok := r.(io.Seeker); ok {
		if sk, ok := r.(interface{ Seekable() bool }); ok && !sk.Seekable() {
			return b
		}
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			b.seeker, b.off = s, off
		}
	}
	return b
}

// Seekable reports whether SeekTo can work.
func (b *Reader) Seekable() bool { return b.seeker != nil }

// DisableSeek makes the input count as not seekable from now on (one that
// claimed to seek and failed).
func (b *Reader) DisableSeek() { b.seeker = nil }

// Offset returns the file offset of the next unread byte.
func (b *Reader) Offset() int64 { return b.off }

// Buffered returns the unread bytes in the buffer; valid until the next call
// that reads or seeks.
func (b *Reader) Buffered() []byte { return b.buf[b.start:b.end] }

// Done reports whether the input has ended or failed: nothing more will be read.
func (b *Reader) Done() bool { return b.eof || b.err != nil }

// Fill tries to make at least n bytes (at most the buffer's size) available;
// it reports whether it could.
func (b *Reader) Fill(n int) bool {
	for b.end-b.start < n {
		if b.eof || b.err != nil {
			return false
		}
		if b.start+n > len(b.buf) {
			copy(b.buf, b.buf[b.start:b.end])
			b.end -= b.start
			b.start = 0
		}
		m, err := b.r.Read(b.buf[b.end:])
		b.end += m
		if err == io.EOF {
			b.eof = true
		} else if err != nil {
			b.err = err
		}
	}
	return true
}

// Peek returns up to n buffered bytes (fewer only at the end of input).
func (b *Reader) Peek(n int) []byte {
	b.Fill(n)
	return b.buf[b.start:min(b.end, b.start+n)]
}

// Advance consumes n buffered bytes.
func (b *Reader) Advance(n int) {
	b.start += n
	b.off += int64(n)
}

// EndErr is io.EOF at the end of input, else the read error.
func (b *Reader) EndErr() error {
	if b.err != nil {
		return fmt.Errorf("%s: reading: %w", b.prefix, b.err)
	}
	return io.EOF
}

// ReadFull fills dst completely, or returns io.EOF / the read error.
func (b *Reader) ReadFull(dst []byte) error {
	for len(dst) > 0 {
		if b.start == b.end && !b.Fill(1) {
			return b.EndErr()
		}
		n := copy(dst, b.buf[b.start:b.end])
		b.Advance(n)
		dst = dst[n:]
	}
	return nil
}

// Skip discards n bytes, seeking over what is not buffered when possible.
func (b *Reader) Skip(n int64) error {
	if avail := int64(b.end - b.start); n <= avail {
		b.Advance(int(n))
		return nil
	}
	if b.seeker != nil {
		return b.SeekTo(b.off + n)
	}
	for n > 0 {
		if b.start == b.end && !b.Fill(1) {
			return b.EndErr()
		}
		m := min(n, int64(b.end-b.start))
		b.Advance(int(m))
		n -= m
	}
	return nil
}

// SeekTo moves to file offset off, inside the buffer when it holds off.
func (b *Reader) SeekTo(off int64) error {
	if b.seeker == nil {
		return b.notSeekable
	}
	bufStart := b.off - int64(b.start)
	if off >= bufStart && off <= bufStart+int64(b.end) {
		b.start = int(off - bufStart)
		b.off = off
		return nil
	}
	if _, err := b.seeker.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("%s: seeking: %w", b.prefix, err)
	}
	b.start, b.end, b.off = 0, 0, off
	b.eof, b.err = false, nil
	return nil
}

// Size returns the input's length by seeking to its end, which leaves the
// reader there: the caller seeks back afterwards.
func (b *Reader) Size() (int64, error) {
	if b.seeker == nil {
		return -1, b.notSeekable
	}
	n, err := b.seeker.Seek(0, io.SeekEnd)
	if err != nil {
		return -1, err
	}
	b.start, b.end, b.eof = 0, 0, false
	b.off = n
	return n, nil
}
