package webm

import (
	"errors"
	"fmt"
	"io"
)

// byteReader buffers the input, tracks the file offset and seeks when the
// input allows it.
type byteReader struct {
	r          io.Reader
	seeker     io.Seeker // nil when r cannot seek
	buf        []byte
	start, end int   // buf[start:end] holds unread bytes
	off        int64 // file offset of buf[start]
	eof        bool
	err        error
}

const readBufSize = 64 << 10

var errNotSeekable = errors.New("webm: input is not seekable")

func newByteReader(r io.Reader) *byteReader {
	br := &byteReader{r: r, buf: make([]byte, readBufSize)}
	if s, ok := r.(io.Seeker); ok {
		if sk, ok := r.(interface{ Seekable() bool }); ok && !sk.Seekable() {
			return br
		}
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			br.seeker, br.off = s, off
		}
	}
	return br
}

// fill tries to make n (at most len(buf)) bytes available.
func (br *byteReader) fill(n int) bool {
	for br.end-br.start < n {
		if br.eof || br.err != nil {
			return false
		}
		if br.start+n > len(br.buf) {
			copy(br.buf, br.buf[br.start:br.end])
			br.end -= br.start
			br.start = 0
		}
		m, err := br.r.Read(br.buf[br.end:])
		br.end += m
		if err == io.EOF {
			br.eof = true
		} else if err != nil {
			br.err = err
		}
	}
	return true
}

// endErr is io.EOF at the end of input, else the read error.
func (br *byteReader) endErr() error {
	if br.err != nil {
		return fmt.Errorf("webm: reading: %w", br.err)
	}
	return io.EOF
}

// peek returns up to n buffered bytes (fewer only at the end of input).
func (br *byteReader) peek(n int) []byte {
	br.fill(n)
	return br.buf[br.start:min(br.end, br.start+n)]
}

func (br *byteReader) advance(n int) {
	br.start += n
	br.off += int64(n)
}

// read fills dst completely, or returns io.EOF / the read error.
func (br *byteReader) read(dst []byte) error {
	for len(dst) > 0 {
		if br.start == br.end && !br.fill(1) {
			return br.endErr()
		}
		n := copy(dst, br.buf[br.start:br.end])
		br.advance(n)
		dst = dst[n:]
	}
	return nil
}

// skip discards n bytes, seeking over large spans when possible.
func (br *byteReader) skip(n int64) error {
	if avail := int64(br.end - br.start); n <= avail {
		br.advance(int(n))
		return nil
	}
	if br.seeker != nil {
		return br.seek(br.off + n)
	}
	for n > 0 {
		if br.start == br.end && !br.fill(1) {
			return br.endErr()
		}
		m := min(n, int64(br.end-br.start))
		br.advance(int(m))
		n -= m
	}
	return nil
}

// seek moves to file offset off.
func (br *byteReader) seek(off int64) error {
	if br.seeker == nil {
		return errNotSeekable
	}
	bufStart := br.off - int64(br.start)
	if off >= bufStart && off <= bufStart+int64(br.end) {
		br.start = int(off - bufStart)
		br.off = off
		return nil
	}
	if _, err := br.seeker.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("webm: seeking: %w", err)
	}
	br.start, br.end, br.off = 0, 0, off
	br.eof, br.err = false, nil
	return nil
}

// readHeader reads an element's ID and size.
func (br *byteReader) readHeader() (id uint32, size int64, err error) {
	b := br.peek(12)
	if len(b) == 0 {
		return 0, 0, br.endErr()
	}
	id, n, err := parseID(b)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, br.endErr()
		}
		return 0, 0, err
	}
	size, m, err := parseSize(b[n:])
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, br.endErr()
		}
		return 0, 0, err
	}
	br.advance(n + m)
	return id, size, nil
}
