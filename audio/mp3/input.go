package mp3

import (
	"errors"
	"io"
)

const inputBufSize = 16 << 10

// input buffers the source: data holds buf[start:end], the bytes from
// stream offset off onwards.
type input struct {
	r         io.Reader
	seeker    io.Seeker // nil when the source cannot seek
	buf       [inputBufSize]byte
	start     int
	end       int
	off       int64
	eof       bool
	err       error // first non-EOF read error
	zeroReads int
}

// avail returns the buffered bytes.
func (in *input) avail() []byte { return in.buf[in.start:in.end] }

// fill tries to have at least n bytes buffered (n <= inputBufSize) and
// reports whether it has.
func (in *input) fill(n int) bool {
	for in.end-in.start < n && !in.eof {
		if in.start > 0 && (in.end == in.start || len(in.buf)-in.start < n) {
			copy(in.buf[:], in.buf[in.start:in.end])
			in.end -= in.start
			in.start = 0
		}
		m, err := in.r.Read(in.buf[in.end:])
		in.end += m
		if err != nil {
			in.eof = true
			if !errors.Is(err, io.EOF) {
				in.err = err
			}
		} else if m == 0 {
			// A reader that returns 0, nil repeatedly would spin: count it.
			in.zeroReads++
			if in.zeroReads > 100 {
				in.eof = true
				in.err = io.ErrNoProgress
			}
		}
	}
	return in.end-in.start >= n
}

// consume drops n buffered bytes.
func (in *input) consume(n int) {
	in.start += n
	in.off += int64(n)
}

// skip drops n bytes, buffered or not, seeking past unbuffered ones when it can.
func (in *input) skip(n int64) error {
	if b := int64(in.end - in.start); n <= b {
		in.consume(int(n))
		return nil
	}
	if in.seeker != nil {
		return in.seek(in.off + n)
	}
	for n > 0 {
		if !in.fill(1) {
			return io.ErrUnexpectedEOF
		}
		k := min(n, int64(in.end-in.start))
		in.consume(int(k))
		n -= k
	}
	return nil
}

// seek moves to absolute offset pos (only with a seeker).
func (in *input) seek(pos int64) error {
	if in.seeker == nil {
		return errNotSeekable
	}
	if pos >= in.off && pos <= in.off+int64(in.end-in.start) {
		in.consume(int(pos - in.off))
		return nil
	}
	p, err := in.seeker.Seek(pos, io.SeekStart)
	if err != nil {
		return err
	}
	in.start, in.end, in.off = 0, 0, p
	in.eof = false
	in.err = nil
	return nil
}
