package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// maxURLLen bounds accepted URLs.
const maxURLLen = 2048

// skipLimit is how far forward a read skips on the open connection instead
// of starting a new range request.
const skipLimit = 64 << 10

// HTTPStatusError is a non-2xx response. Its message reads "http 404 Not Found".
type HTTPStatusError struct {
	StatusCode int
	Status     string
}

func (e *HTTPStatusError) Error() string {
	return "http " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// ErrBlockedAddress is wrapped in the error for a connection refused by
// Options.BlockPrivateNetworks.
var ErrBlockedAddress = errors.New("source: destination is not a public address")

var (
	errNoRangeBack = errors.New("source: cannot seek backwards: the server does not support range requests")
	errClosed      = errors.New("source: read from closed source")
	errPastEnd     = errors.New("source: range starts past the end")
)

// blockedPrefixes are the non-public address ranges refused by
// BlockPrivateNetworks beyond what net.IP's predicates cover (RFC 6890).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT), RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking, RFC 2544
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64, RFC 8215
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("::ffff:0:0/96"),  // IPv4-mapped: checked as IPv4 below
}

// publicAddr reports whether ip may be dialed when private networks are blocked.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// blockPrivate is a net.Dialer Control hook: it sees the resolved address.
func blockPrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, host)
	}
	return nil
}

// validateURL rejects hostile URLs before any connection is made.
func validateURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("source: URL longer than %d bytes", maxURLLen)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f {
			return nil, fmt.Errorf("source: URL contains control character 0x%02x", c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("source: invalid URL: %w", err)
	}
	return u, checkURL(u)
}

func checkURL(u *url.URL) error {
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("source: unsupported URL scheme %q (only http and https)", u.Scheme)
	}
	if u.User != nil {
		return errors.New("source: URLs with credentials are not allowed")
	}
	if u.Hostname() == "" {
		return errors.New("source: URL has no host")
	}
	if len(u.String()) > maxURLLen {
		return fmt.Errorf("source: URL longer than %d bytes", maxURLLen)
	}
	return nil
}

// buildClient returns the client for opts, with the redirect policy and,
// when asked, the private-network block applied.
func buildClient(opts Options) (*http.Client, *http.Transport, error) {
	var c http.Client
	var owned *http.Transport
	if opts.HTTPClient != nil {
		c = *opts.HTTPClient
	}
	if opts.HTTPClient == nil || opts.BlockPrivateNetworks {
		var t *http.Transport
		switch rt := c.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = rt.Clone()
		default:
			return nil, nil, errors.New("source: BlockPrivateNetworks needs an HTTPClient with an *http.Transport")
		}
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		if opts.BlockPrivateNetworks {
			d.Control = blockPrivate
			t.Proxy = nil // the check must see the real destination
		}
		t.DialContext = d.DialContext
		t.ResponseHeaderTimeout = opts.StallTimeout
		c.Transport, owned = t, t
	}
	max := opts.MaxRedirects
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > max {
			return fmt.Errorf("source: stopped after %d redirects", max)
		}
		return checkURL(req.URL)
	}
	return &c, owned, nil
}

// httpSource reads a URL with Range requests.
type httpSource struct {
	ctx    context.Context
	url    string
	client *http.Client
	owned  *http.Transport // closed on Close when we built it
	opts   Options

	size    int64
	rangeOK bool
	pos     int64

	buf      []byte
	bufStart int64
	bufLen   int

	body    io.ReadCloser
	bodyPos int64 // offset of the body's next byte
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool
	retries int
	closed  bool
}

func openHTTP(ctx context.Context, raw string, opts Options) (Source, error) {
	u, err := validateURL(raw)
	if err != nil {
		return nil, err
	}
	client, owned, err := buildClient(opts)
	if err != nil {
		return nil, err
	}
	s := &httpSource{ctx: ctx, url: u.String(), client: client, owned: owned, opts: opts, size: -1, buf: make([]byte, opts.BufferSize)}
	if err := s.open(0, true); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// open starts a request for the bytes from off.
func (s *httpSource) open(off int64, first bool) error {
	s.closeBody()
	rctx, cancel := context.WithCancel(s.ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.url, nil)
	if err != nil {
		cancel()
		return fmt.Errorf("source: %w", err)
	}
	req.Header.Set("User-Agent", s.opts.UserAgent)
	req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	s.stalled.Store(false)
	timer := time.AfterFunc(s.opts.StallTimeout, func() { s.stalled.Store(true); cancel() })
	resp, err := s.client.Do(req)
	if err != nil {
		timer.Stop()
		cancel()
		if s.stalled.Load() {
			return fmt.Errorf("source: server sent no response for %v", s.opts.StallTimeout)
		}
		return fmt.Errorf("source: %w", err)
	}
	fail := func(err error) error {
		timer.Stop()
		resp.Body.Close()
		cancel()
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			return fail(fmt.Errorf("source: server answered bytes from %d to a request for %d", start, off))
		}
		s.rangeOK = true
		if total >= 0 {
			s.size = total
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && !first:
		// Past the end.
		if _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total >= 0 {
			s.size = total
		}
		return fail(errPastEnd)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// The server ignored Range: the body starts at 0.
		if first {
			s.rangeOK = false
			s.size = resp.ContentLength
		}
		s.body, s.bodyPos, s.cancel, s.timer = resp.Body, 0, cancel, timer
		timer.Stop()
		return nil
	default:
		return fail(&HTTPStatusError{StatusCode: resp.StatusCode, Status: resp.Status})
	}
	s.body, s.bodyPos, s.cancel, s.timer = resp.Body, off, cancel, timer
	timer.Stop()
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(v string) (start, total int64, ok bool) {
	v, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return 0, total, true
	}
	a, _, found := strings.Cut(rng, "-")
	st, err := strconv.ParseInt(a, 10, 64)
	if !found || err != nil || st < 0 {
		return 0, 0, false
	}
	return st, total, true
}

func (s *httpSource) closeBody() {
	if s.body != nil {
		s.timer.Stop()
		s.cancel()
		s.body.Close()
		s.body = nil
	}
}

// readBody reads from the connection with the stall timer armed.
func (s *httpSource) readBody(p []byte) (int, error) {
	s.timer.Reset(s.opts.StallTimeout)
	n, err := s.body.Read(p)
	s.timer.Stop()
	if err != nil && err != io.EOF && s.stalled.Load() {
		err = fmt.Errorf("stalled: no data for %v", s.opts.StallTimeout)
	}
	s.bodyPos += int64(n)
	return n, err
}

// fill loads the buffer with the bytes at s.pos, reconnecting as needed.
func (s *httpSource) fill() error {
	var lastErr error
	for {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if s.body != nil && s.bodyPos != s.pos {
			forward := s.pos > s.bodyPos && (s.pos-s.bodyPos <= skipLimit || !s.rangeOK)
			if !forward {
				s.closeBody()
			}
		}
		if s.body == nil {
			off := s.pos
			if !s.rangeOK {
				off = 0 // must read from the start and skip
			}
			if err := s.open(off, false); err != nil {
				if err == errPastEnd {
					return io.EOF
				}
				var se *HTTPStatusError
				if errors.As(err, &se) && se.StatusCode < 500 {
					return err // 4xx on resume: retrying will not help
				}
				lastErr = err
				if err := s.retry(lastErr); err != nil {
					return err
				}
				continue
			}
		}
		// Skip forward on the open connection.
		for s.bodyPos < s.pos {
			n, err := s.readBody(s.buf[:min(int64(len(s.buf)), s.pos-s.bodyPos)])
			if n > 0 {
				s.retries = 0
			}
			if err != nil {
				break
			}
		}
		if s.bodyPos < s.pos {
			s.closeBody()
			if s.size >= 0 && s.pos >= s.size {
				return io.EOF
			}
			lastErr = fmt.Errorf("connection lost")
			if err := s.retry(lastErr); err != nil {
				return err
			}
			continue
		}
		start := s.bodyPos
		n, err := s.readBody(s.buf)
		if n > 0 {
			s.bufStart, s.bufLen = start, n
			s.retries = 0
			return nil
		}
		if err == io.EOF && (s.size < 0 || s.bodyPos >= s.size) {
			s.closeBody()
			if s.size < 0 && s.rangeOK {
				s.size = s.bodyPos
			}
			return io.EOF
		}
		if err == nil {
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		s.closeBody()
		lastErr = err
		if err := s.retry(lastErr); err != nil {
			return err
		}
	}
}

// retry counts a failed attempt and waits a little before the next one.
func (s *httpSource) retry(cause error) error {
	if s.retries >= s.opts.MaxRetries {
		total := "unknown size"
		if s.size >= 0 {
			total = strconv.FormatInt(s.size, 10) + " bytes"
		}
		return fmt.Errorf("source: %s: gave up after %d retries at byte %d of %s: %w", s.url, s.retries, s.pos, total, cause)
	}
	s.retries++
	t := time.NewTimer(time.Duration(25<<s.retries) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return fmt.Errorf("source: %w", s.ctx.Err())
	}
}

func (s *httpSource) Read(p []byte) (int, error) {
	if s.closed {
		return 0, errClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos < s.bufStart || s.pos >= s.bufStart+int64(s.bufLen) {
		if s.size >= 0 && s.pos >= s.size {
			return 0, io.EOF
		}
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos-s.bufStart:s.bufLen])
	s.pos += int64(n)
	return n, nil
}

func (s *httpSource) Seek(offset int64, whence int) (int64, error) {
	abs, err := newOffset(s.pos, s.size, offset, whence)
	if err != nil {
		return s.pos, err
	}
	if !s.rangeOK && abs < s.pos && abs < s.bufStart {
		return s.pos, errNoRangeBack
	}
	s.pos = abs
	return abs, nil
}

func (s *httpSource) Size() int64    { return s.size }
func (s *httpSource) Seekable() bool { return s.rangeOK }

func (s *httpSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.closeBody()
	if s.owned != nil {
		s.owned.CloseIdleConnections()
	}
	return nil
}
