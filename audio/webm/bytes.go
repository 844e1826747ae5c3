package webm

import (
	"errors"
	"io"

	"github.com/quaverbot/quaver/audio/internal/readbuf"
)

// byteReader buffers the input (readbuf) and reads EBML element headers.
type byteReader struct {
	*readbuf.Reader
}

const readBufSize = 64 << 10

var errNotSeekable = errors.New("webm: input is not seekable")

func newByteReader(r io.Reader) *byteReader {
	return &byteReader{readbuf.New(r, readBufSize, "webm", errNotSeekable)}
}

// readHeader reads an element's ID and size.
func (br *byteReader) readHeader() (id uint32, size int64, err error) {
	b := br.Peek(12)
	if len(b) == 0 {
		return 0, 0, br.EndErr()
	}
	id, n, err := parseID(b)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, br.EndErr()
		}
		return 0, 0, err
	}
	size, m, err := parseSize(b[n:])
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, br.EndErr()
		}
		return 0, 0, err
	}
	br.Advance(n + m)
	return id, size, nil
}
