package tcpcut

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const deadline = 10 * time.Second

// flip is what the test server answers for each byte it receives, so that
// an answer can only have come from it.
func flip(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = ^v
	}
	return out
}

// server is a TCP server that answers every byte with its complement and
// reports how each connection ended.
type server struct {
	ln       net.Listener
	wg       sync.WaitGroup
	accepted chan struct{}
	ended    chan error // one per connection: the read error that ended it
}

func startServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, accepted: make(chan struct{}, 16), ended: make(chan error, 16)}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

// serve accepts connections until the listener is closed.
func (s *server) serve() {
	defer s.wg.Done()
	for c, err := s.ln.Accept(); err == nil; c, err = s.ln.Accept() {
		s.accepted <- struct{}{}
		s.wg.Add(1)
		go s.answer(c)
	}
}

// answer sends back the complement of every byte c brings until c ends.
func (s *server) answer(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(flip(buf[:n])); werr != nil {
				s.ended <- werr
				return
			}
		}
		if err != nil {
			s.ended <- err
			return
		}
	}
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(deadline))
	return c
}

// roundTrip sends payload through c and returns what came back.
func roundTrip(t *testing.T, c net.Conn, payload []byte) []byte {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	got := make([]byte, len(payload))
	_, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if rerr != nil {
		t.Fatalf("read: %v", rerr)
	}
	return got
}

// wantReset reads from c, which must fail with a connection reset.
func wantReset(t *testing.T, c net.Conn, what string) {
	t.Helper()
	n, err := c.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: read %d bytes, %v; want a connection reset", what, n, err)
	}
}

// wantRefused dials addr: the dial must fail, or the connection be reset
// before it carries a byte.
func wantRefused(t *testing.T, addr, what string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s: dial: %v, want refused or reset", what, err)
		}
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	if _, err := c.Write([]byte("hello?")); errors.Is(err, syscall.ECONNRESET) {
		return // the reset came first; a read would now see EOF
	}
	wantReset(t, c, what)
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("%s: nothing after %v", what, deadline)
		panic("unreachable")
	}
}

func TestForwardsBothWays(t *testing.T) {
	s := startServer(t)
	p := startProxy(t, s.ln.Addr().String())
	for _, tc := range []struct {
		name string
		size int
	}{
		{name: "one byte", size: 1},
		{name: "one MiB", size: 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := make([]byte, tc.size)
			for i := range payload {
				payload[i] = byte(rand.Uint32())
			}
			c := dial(t, p.Addr())
			if got := roundTrip(t, c, payload); !bytes.Equal(got, flip(payload)) {
				t.Fatalf("%d bytes sent, answer differs from the server's", tc.size)
			}
		})
	}
}

func TestCutAndRestore(t *testing.T) {
	s := startServer(t)
	p := startProxy(t, s.ln.Addr().String())
	live := dial(t, p.Addr())
	roundTrip(t, live, []byte("before"))
	wait(t, s.accepted, "server accepts the first connection")

	p.Cut()
	wantReset(t, live, "live connection after Cut")
	if err := wait(t, s.ended, "server side of the live connection"); err == nil {
		t.Fatal("server side of the live connection: no error")
	}
	for range 3 { // new connections are refused, and never reach the server
		wantRefused(t, p.Addr(), "new connection while cut")
	}

	p.Restore()
	c := dial(t, p.Addr())
	if got := roundTrip(t, c, []byte("after")); !bytes.Equal(got, flip([]byte("after"))) {
		t.Fatalf("after Restore: got %q", got)
	}
	wait(t, s.accepted, "server accepts a connection after Restore")
	if n := len(s.accepted); n != 0 {
		t.Errorf("server accepted %d connections made while the proxy was cut", n)
	}
	if n, err := live.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("connection cut before Restore: read %d bytes, %v; want it to stay closed", n, err)
	}
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	p := startProxy(t, target)
	wantRefused(t, p.Addr(), "connection to a target that is down")
}

func TestClose(t *testing.T) {
	s := startServer(t)
	p, err := Start(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	live := dial(t, p.Addr())
	roundTrip(t, live, []byte("before"))
	p.Close() // goleak in TestMain checks that its goroutines ended
	p.Close()
	wantReset(t, live, "live connection after Close")
	if c, err := net.DialTimeout("tcp", p.Addr(), deadline); err == nil {
		_ = c.Close()
		t.Fatal("proxy still accepts connections after Close")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Close: %v, want connection refused", err)
	}
}
