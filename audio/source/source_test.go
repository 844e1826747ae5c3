package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testData(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// server serves data with injectable misbehaviour and records what it was asked.
type server struct {
	data     []byte
	noRange  bool
	dropAt   func(req int, start int64) int64 // absolute offset at which to cut the connection (-1: never)
	stallAt  int64                            // absolute offset after which to stop sending (-1: never)
	release  chan struct{}
	mu       sync.Mutex
	ranges   []string
	sent     atomic.Int64
	requests atomic.Int32
}

func newServer(t *testing.T, s *server) *httptest.Server {
	if s.stallAt == 0 {
		s.stallAt = -1
	}
	s.release = make(chan struct{})
	ts := httptest.NewServer(s)
	t.Cleanup(func() { close(s.release); ts.Close() })
	return ts
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := int(s.requests.Add(1))
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !s.noRange {
		v, _ := strings.CutSuffix(strings.TrimPrefix(rg, "bytes="), "-")
		start, _ = strconv.ParseInt(v, 10, 64)
		if start >= int64(len(s.data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(s.data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.data)-1, len(s.data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)-int(start)))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.WriteHeader(http.StatusOK)
	}
	end := int64(len(s.data))
	drop := false
	if s.dropAt != nil {
		if d := s.dropAt(req, start); d >= 0 && d < end {
			end, drop = max(d, start), true
		}
	}
	stall := s.stallAt >= 0 && s.stallAt < end
	if stall {
		end = max(s.stallAt, start)
	}
	for off := start; off < end; {
		n := min(end-off, 8192)
		m, err := w.Write(s.data[off : off+n])
		s.sent.Add(int64(m))
		if err != nil {
			return
		}
		off += n
	}
	w.(http.Flusher).Flush()
	if stall {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	}
	if drop {
		panic(http.ErrAbortHandler) // cuts the connection mid-body
	}
}

func (s *server) seenRanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// readChunks reads everything with small reads, as a demuxer does.
func readChunks(r io.Reader, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestFile(t *testing.T) {
	data := testData(300_000)
	path := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(path, data, 0o644)
	s, err := Open(context.Background(), path, Options{BufferSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != int64(len(data)) || !s.Seekable() {
		t.Errorf("Size %d Seekable %v", s.Size(), s.Seekable())
	}
	got, err := readChunks(s, 777)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
	for _, off := range []int64{0, 5, 299_999, 123_456, 4095, 4096} {
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 10)
		n, _ := io.ReadFull(s, b)
		if !bytes.Equal(b[:n], data[off:min(off+10, int64(len(data)))]) {
			t.Errorf("after Seek(%d): wrong bytes", off)
		}
	}
	if p, _ := s.Seek(-10, io.SeekEnd); p != int64(len(data))-10 {
		t.Errorf("Seek from end = %d", p)
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("opening a missing file succeeded")
	}
}

func TestHTTPRangeSeek(t *testing.T) {
	data := testData(2 << 20)
	srv := &server{data: data}
	ts := newServer(t, srv)
	tr := &countingTransport{rt: http.DefaultTransport}
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	s, err := Open(context.Background(), ts.URL+"/a.opus", Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != int64(len(data)) || !s.Seekable() {
		t.Fatalf("Size %d Seekable %v", s.Size(), s.Seekable())
	}
	b := make([]byte, 100)
	io.ReadFull(s, b)
	if _, err := s.Seek(1_900_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, b); err != nil || !bytes.Equal(b, data[1_900_000:1_900_100]) {
		t.Fatalf("after seek: %v", err)
	}
	if _, err := s.Seek(-50, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(rest, data[len(data)-50:]) {
		t.Fatalf("tail: %d bytes, %v", len(rest), err)
	}
	ranges := srv.seenRanges()
	if ranges[0] != "bytes=0-" || !contains(ranges, "bytes=1900000-") {
		t.Errorf("ranges requested: %v", ranges)
	}
	// Seeking must not have downloaded the file from the start.
	if got := tr.bytes.Load(); got > 1<<20 {
		t.Errorf("client downloaded %d of %d bytes for a seek near the end", got, len(data))
	}
	// Past the end: EOF, not an error.
	s.Seek(int64(len(data))+10, io.SeekStart)
	if n, err := s.Read(b); n != 0 || err != io.EOF {
		t.Errorf("read past the end: %d, %v", n, err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestHTTPResumesDroppedConnection(t *testing.T) {
	data := testData(1 << 20)
	srv := &server{data: data, dropAt: func(req int, start int64) int64 {
		switch req {
		case 1:
			return 300_000
		case 2:
			return 700_001
		}
		return -1
	}}
	ts := newServer(t, srv)
	s, err := Open(context.Background(), ts.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readChunks(s, 4000)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(data), err)
	}
	r := srv.seenRanges()
	if len(r) != 3 || r[1] != "bytes=300000-" || r[2] != "bytes=700001-" {
		t.Errorf("ranges: %v, want resumes at 300000 and 700001", r)
	}
}

func TestHTTPGivesUpAfterRetries(t *testing.T) {
	data := testData(1 << 20)
	srv := &server{data: data, dropAt: func(int, int64) int64 { return 500_000 }}
	ts := newServer(t, srv)
	s, err := Open(context.Background(), ts.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readChunks(s, 4000)
	if err == nil {
		t.Fatal("no error from a server that always drops")
	}
	if len(got) != 500_000 || !bytes.Equal(got, data[:500_000]) {
		t.Errorf("got %d bytes before the error", len(got))
	}
	if !strings.Contains(err.Error(), "after 3 retries at byte 500000 of 1048576 bytes") {
		t.Errorf("error does not say how far it got: %v", err)
	}
	if n := srv.requests.Load(); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}
}

func TestHTTPStall(t *testing.T) {
	data := testData(1 << 20)
	srv := &server{data: data, stallAt: 100_000}
	ts := newServer(t, srv)
	s, err := Open(context.Background(), ts.URL, Options{StallTimeout: 150 * time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readChunks(s, 4000)
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("err = %v, want a stall error", err)
	}
	if len(got) != 100_000 {
		t.Errorf("%d bytes before the stall, want 100000", len(got))
	}

	// A server that never sends headers fails Open.
	hang := make(chan struct{})
	ts2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer ts2.Close()
	defer close(hang)
	if _, err := Open(context.Background(), ts2.URL, Options{StallTimeout: 150 * time.Millisecond}); err == nil {
		t.Error("Open of a silent server succeeded")
	}
}

func TestHTTPNoRangeSupport(t *testing.T) {
	data := testData(500_000)
	srv := &server{data: data, noRange: true}
	ts := newServer(t, srv)
	s, err := Open(context.Background(), ts.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Seekable() || s.Size() != int64(len(data)) {
		t.Errorf("Seekable %v Size %d", s.Seekable(), s.Size())
	}
	b := make([]byte, 1000)
	io.ReadFull(s, b)
	if _, err := s.Seek(200_000, io.SeekStart); err != nil {
		t.Fatalf("forward seek: %v", err)
	}
	io.ReadFull(s, b)
	if !bytes.Equal(b, data[200_000:201_000]) {
		t.Error("forward skip read the wrong bytes")
	}
	if _, err := s.Seek(0, io.SeekStart); err == nil || !strings.Contains(err.Error(), "range requests") {
		t.Errorf("backward seek: %v", err)
	}
	rest, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(rest, data[201_000:]) {
		t.Errorf("rest: %d bytes, %v", len(rest), err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests for one pass", n)
	}
}

func TestHTTPErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/toftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/data", http.StatusFound) })
	mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "d", time.Time{}, bytes.NewReader([]byte("hello")))
	})
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := context.Background()

	_, err := Open(ctx, ts.URL+"/missing", Options{})
	var se *HTTPStatusError
	if err == nil || err.Error() != "http 404 Not Found" || !errors.As(err, &se) || se.StatusCode != 404 {
		t.Errorf("404: %v", err)
	}
	if _, err := Open(ctx, ts.URL+"/teapot", Options{}); err == nil || err.Error() != "http 418 I'm a teapot" {
		t.Errorf("418: %v", err)
	}
	if _, err := Open(ctx, ts.URL+"/loop", Options{}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	if _, err := Open(ctx, ts.URL+"/toftp", Options{}); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("redirect to ftp: %v", err)
	}
	s, err := Open(ctx, ts.URL+"/ok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(s)
	s.Close()
	if string(b) != "hello" {
		t.Errorf("after a redirect: %q", b)
	}
}

func TestHostileURLs(t *testing.T) {
	for _, u := range []string{
		"ftp://example.com/a.mp3",
		"file:///etc/passwd",
		"gopher://x/",
		"http://user:secret@example.com/a.ogg",
		"http://example.com/a\x00.ogg",
		"http://example.com/\r\nHost: evil",
		"http://example.com/" + strings.Repeat("a", 2100),
		"http:///nohost",
	} {
		_, err := Open(context.Background(), u, Options{})
		if err == nil {
			t.Errorf("%.60q accepted", u)
		}
	}
}

func TestBlockPrivateNetworks(t *testing.T) {
	srv := &server{data: testData(1000)}
	ts := newServer(t, srv)
	_, err := Open(context.Background(), ts.URL, Options{BlockPrivateNetworks: true})
	if !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("loopback with BlockPrivateNetworks: %v", err)
	}
	localhost := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	if _, err := Open(context.Background(), localhost, Options{BlockPrivateNetworks: true}); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("localhost (after DNS) with BlockPrivateNetworks: %v", err)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	s, err := Open(context.Background(), ts.URL, Options{})
	if err != nil {
		t.Fatalf("without the block: %v", err)
	}
	s.Close()
	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2606:4700:4700::1111": true, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "127.0.0.1": false, "::1": false, "fe80::1": false,
		"fc00::1": false, "100.64.0.1": false, "0.0.0.0": false, "::ffff:127.0.0.1": false, "224.0.0.1": false,
		"255.255.255.255": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("publicAddr(%s) = %v", addr, got)
		}
	}
}

// countingTransport counts requests and the body bytes the client reads.
type countingTransport struct {
	n     atomic.Int32
	bytes atomic.Int64
	rt    http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{resp.Body, &c.bytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func TestInjectedClient(t *testing.T) {
	data := testData(10_000)
	ts := newServer(t, &server{data: data})
	tr := &countingTransport{rt: http.DefaultTransport}
	s, err := Open(context.Background(), ts.URL, Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(s)
	s.Close()
	if !bytes.Equal(b, data) || tr.n.Load() == 0 {
		t.Errorf("injected client used %d times", tr.n.Load())
	}
	if _, err := Open(context.Background(), ts.URL, Options{HTTPClient: &http.Client{Transport: tr}, BlockPrivateNetworks: true}); err == nil {
		t.Error("BlockPrivateNetworks with a custom RoundTripper was accepted")
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestFromReader(t *testing.T) {
	data := testData(200_000)
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(data); off += 10_000 {
			pw.Write(data[off : off+10_000])
		}
		pw.Close()
	}()
	s := FromReader(pr)
	if s.Seekable() || s.Size() != -1 {
		t.Errorf("Seekable %v Size %d", s.Seekable(), s.Size())
	}
	if _, err := s.Seek(10, io.SeekStart); err == nil || !strings.Contains(err.Error(), "live stream is not seekable") {
		t.Errorf("Seek: %v", err)
	}
	got, err := readChunks(s, 333)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read %d bytes: %v", len(got), err)
	}
	if p, err := s.Seek(0, io.SeekCurrent); err != nil || p != int64(len(data)) {
		t.Errorf("position %d, %v", p, err)
	}
	s.Close()
}

func TestContextCancel(t *testing.T) {
	data := testData(1 << 20)
	ts := newServer(t, &server{data: data, stallAt: 10_000})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, ts.URL, Options{StallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := make([]byte, 10_000)
	io.ReadFull(s, b)
	done := make(chan error, 1)
	go func() { _, err := s.Read(b); done <- err }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("read after cancel succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("read did not return after the context was cancelled")
	}
}

func BenchmarkFileSmallReads(b *testing.B) {
	path := filepath.Join(b.TempDir(), "f")
	os.WriteFile(path, testData(4<<20), 0o644)
	s, _ := Open(context.Background(), path, Options{})
	defer s.Close()
	buf := make([]byte, 27)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(buf); err == io.EOF {
			s.Seek(0, io.SeekStart)
		}
	}
}

func FuzzURLAndContentRange(f *testing.F) {
	f.Add("http://example.com/a.ogg", "bytes 0-99/100")
	f.Add("https://a.b/c?d=e#f", "bytes */5")
	f.Fuzz(func(t *testing.T, u, cr string) {
		if parsed, err := validateURL(u); err == nil {
			okScheme := strings.EqualFold(parsed.Scheme, "http") || strings.EqualFold(parsed.Scheme, "https")
			if parsed.User != nil || !okScheme || len(u) > maxURLLen || strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("accepted %q", u)
			}
		}
		if st, _, ok := parseContentRange(cr); ok && st < 0 {
			t.Fatalf("negative start from %q", cr)
		}
	})
}
