// Package source owns the byte sources the audio engine reads from: local
// files, http(s) URLs read with Range requests (resuming dropped connections,
// timing out stalled servers, refusing hostile URLs) and live io.Readers.
// Every source is buffered so that demuxers' small reads stay cheap.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Source is a buffered byte source. Sources that cannot seek (live streams,
// servers without range support) return an error from Seek naming the
// reason, except that Seek(0, io.SeekCurrent) always reports the position
// and servers without range support may still skip forward.
type Source interface {
	io.ReadSeeker
	// Size returns the length in bytes, or -1 when unknown (live streams).
	Size() int64
	// Seekable reports whether Seek can move anywhere (backwards included).
	Seekable() bool
	// Close releases the file or connection.
	Close() error
}

// Options configures Open. The zero value gets every default.
type Options struct {
	// HTTPClient makes the requests; nil builds one with the limits below.
	// Its transport is copied (when it is an *http.Transport) to apply
	// BlockPrivateNetworks, and its redirect policy is replaced.
	HTTPClient *http.Client
	// MaxRetries is how many times a dropped or stalled connection is
	// resumed without progress before Read fails; 0 means 3, negative means none.
	MaxRetries int
	// StallTimeout fails a connection that delivers no bytes for this long; 0 means 10 s.
	StallTimeout time.Duration
	// MaxRedirects bounds redirects followed per request; 0 means 5.
	MaxRedirects int
	// BlockPrivateNetworks refuses loopback, private, link-local and other
	// non-public destinations, checked on the resolved address at dial time
	// (for bots that play URLs from the public).
	BlockPrivateNetworks bool
	// BufferSize is the read buffer; 0 means 64 KiB.
	BufferSize int
	// UserAgent is sent with requests; empty means "quaver".
	UserAgent string
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{MaxRetries: 3, StallTimeout: 10 * time.Second, MaxRedirects: 5, BufferSize: 64 << 10, UserAgent: "quaver"}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.MaxRetries == 0 {
		o.MaxRetries = d.MaxRetries
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = d.StallTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = d.MaxRedirects
	}
	if o.BufferSize <= 0 {
		o.BufferSize = d.BufferSize
	}
	if o.UserAgent == "" {
		o.UserAgent = d.UserAgent
	}
}

// Open opens input: an http:// or https:// URL, else a local file path. ctx
// bounds the whole life of an HTTP source (cancelling it fails later reads).
func Open(ctx context.Context, input string, opts Options) (Source, error) {
	opts.fill()
	if strings.Contains(input, "://") {
		return openHTTP(ctx, input, opts)
	}
	return openFile(input, opts)
}

var (
	errLive       = errors.New("source: live stream is not seekable")
	errWhence     = errors.New("source: invalid seek whence")
	errNegative   = errors.New("source: seek to a negative offset")
	errSizeUnknow = errors.New("source: cannot seek from the end: size unknown")
)

// newOffset resolves a Seek request against the current position and size.
func newOffset(pos, size, offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = pos + offset
	case io.SeekEnd:
		if size < 0 {
			return 0, errSizeUnknow
		}
		abs = size + offset
	default:
		return 0, errWhence
	}
	if abs < 0 {
		return 0, errNegative
	}
	return abs, nil
}

// fileSource reads a regular file through a buffer with ReadAt.
type fileSource struct {
	f        *os.File
	size     int64
	pos      int64 // logical position
	buf      []byte
	bufStart int64 // file offset of buf[0]
	bufLen   int
}

func openFile(path string, opts Options) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("source: %s is a directory", path)
	}
	if !st.Mode().IsRegular() {
		// A pipe or device: read it as a live stream.
		return newLive(f, opts.BufferSize), nil
	}
	return &fileSource{f: f, size: st.Size(), buf: make([]byte, opts.BufferSize)}, nil
}

func (s *fileSource) Read(p []byte) (int, error) {
	if s.pos < s.bufStart || s.pos >= s.bufStart+int64(s.bufLen) {
		if s.pos >= s.size {
			return 0, io.EOF
		}
		if len(p) >= len(s.buf) {
			n, err := s.f.ReadAt(p, s.pos) // large reads bypass the buffer
			s.pos += int64(n)
			if n > 0 && err == io.EOF {
				err = nil
			}
			return n, err
		}
		n, err := s.f.ReadAt(s.buf, s.pos)
		if n == 0 {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		s.bufStart, s.bufLen = s.pos, n
	}
	n := copy(p, s.buf[s.pos-s.bufStart:s.bufLen])
	s.pos += int64(n)
	return n, nil
}

func (s *fileSource) Seek(offset int64, whence int) (int64, error) {
	abs, err := newOffset(s.pos, s.size, offset, whence)
	if err != nil {
		return s.pos, err
	}
	s.pos = abs
	return abs, nil
}

func (s *fileSource) Size() int64    { return s.size }
func (s *fileSource) Seekable() bool { return true }
func (s *fileSource) Close() error   { return s.f.Close() }

// liveSource buffers a stream that cannot seek.
type liveSource struct {
	r      io.Reader
	buf    []byte
	start  int
	end    int
	pos    int64
	closer io.Closer
}

// FromReader wraps a live stream (internet radio, a pipe): buffered, not
// seekable, of unknown size. Close closes r when it is an io.Closer.
func FromReader(r io.Reader) Source {
	return newLive(r, DefaultOptions().BufferSize)
}

func newLive(r io.Reader, bufSize int) *liveSource {
	s := &liveSource{r: r, buf: make([]byte, bufSize)}
	if c, ok := r.(io.Closer); ok {
		s.closer = c
	}
	return s
}

func (s *liveSource) Read(p []byte) (int, error) {
	if s.start == s.end {
		if len(p) >= len(s.buf) {
			n, err := s.r.Read(p)
			s.pos += int64(n)
			return n, err
		}
		n, err := s.r.Read(s.buf)
		s.start, s.end = 0, n
		if n == 0 {
			if err == nil {
				return 0, nil
			}
			return 0, err
		}
	}
	n := copy(p, s.buf[s.start:s.end])
	s.start += n
	s.pos += int64(n)
	return n, nil
}

func (s *liveSource) Seek(offset int64, whence int) (int64, error) {
	if whence == io.SeekCurrent && offset == 0 {
		return s.pos, nil
	}
	return s.pos, errLive
}

func (s *liveSource) Size() int64    { return -1 }
func (s *liveSource) Seekable() bool { return false }

func (s *liveSource) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
