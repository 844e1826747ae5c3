//go:build unix

package transport

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func detached(t *testing.T) (*Sender, *net.UDPConn) {
	t.Helper()
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.DialUDP("udp4", nil, ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Detach(c)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ln
}

// A detached socket still delivers every datagram whole, to the same peer,
// from the same local port (the one IP discovery reported), and a send
// allocates nothing.
func TestDetachedSocketSends(t *testing.T) {
	s, ln := detached(t)
	pkt := make([]byte, 180)
	var from string
	for i := range 50 {
		pkt[0] = byte(i)
		if _, err := s.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	for i := range 50 {
		n, addr, err := ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if i == 0 {
			from = addr.String()
		} else if addr.String() != from {
			t.Fatalf("datagram %d came from %v, earlier ones from %v", i, addr, from)
		}
		if n != len(pkt) || buf[0] != byte(i) || !bytes.Equal(buf[1:n], pkt[1:]) {
			t.Fatalf("datagram %d: got %d bytes starting %d", i, n, buf[0])
		}
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = s.Write(pkt) }); a != 0 {
		t.Fatalf("Write allocates %v times per packet", a)
	}
}

// Nothing reads a detached socket, so its receive buffer is the kernel's
// minimum: a bot in a busy channel does not hold megabytes of other people's
// audio in kernel memory.
func TestDetachedSocketHasMinimalReceiveBuffer(t *testing.T) {
	s, _ := detached(t)
	got, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		t.Fatal(err)
	}
	if got > 16<<10 {
		t.Fatalf("receive buffer is %d bytes, want the minimum (a few KB)", got)
	}
}

// Close while another goroutine writes: the writer sees net.ErrClosed and
// nothing else (never EBADF from a descriptor closed under it), and a
// second Close is harmless.
func TestSenderCloseWhileWriting(t *testing.T) {
	s, _ := detached(t)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		pkt := make([]byte, 100)
		for i := 0; ; i++ {
			_, err := s.Write(pkt)
			if i == 10 {
				close(started)
			}
			if errors.Is(err, net.ErrClosed) {
				done <- nil
				return
			}
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.ENOBUFS) {
				done <- err
				return
			}
		}
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("writer saw %v, want only net.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}
