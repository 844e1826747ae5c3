package transport

import (
	"net"
	"sync"
	"sync/atomic"
)

// Sender writes datagrams on a connected UDP socket that is no longer watched
// by the Go runtime's network poller. A bot only sends on its voice socket
// after IP discovery; while the runtime watches the socket, every packet sent
// raises a write-readiness event that the poller must wake up for and throw
// away, which at thousands of connections costs more CPU than the sends
// themselves. Detach hands the socket to a Sender, which writes with plain
// system calls and never waits: a full send buffer drops the packet, as a
// real-time stream should.
//
// Write may be called from one goroutine while another calls Close; the
// descriptor is closed only once no Write is using it, so a concurrent Close
// never makes a Write hit a reused descriptor.
type Sender struct {
	fd int
	// state is closedBit plus the number of Writes in progress.
	state     atomic.Uint64
	closeOnce sync.Once
}

const closedBit = 1 << 63

// Write sends b as one datagram. It returns net.ErrClosed after Close.
func (s *Sender) Write(b []byte) (int, error) {
	if s.state.Add(1)&closedBit != 0 {
		s.release()
		return 0, net.ErrClosed
	}
	n, err := writeFD(s.fd, b)
	s.release()
	return n, err
}

// release ends a Write; the last one out after Close closes the descriptor.
func (s *Sender) release() {
	if s.state.Add(^uint64(0)) == closedBit {
		_ = s.closeFD()
	}
}

// Close closes the socket once no Write is in progress; it never blocks.
// It returns the close error when it closes the descriptor itself; when a
// Write is in progress, that Write closes it on its way out.
func (s *Sender) Close() error {
	for {
		old := s.state.Load()
		if old&closedBit != 0 {
			return nil
		}
		if s.state.CompareAndSwap(old, old|closedBit) {
			if old == 0 {
				return s.closeFD()
			}
			return nil
		}
	}
}

// closeFD closes the descriptor the first time it is called.
func (s *Sender) closeFD() (err error) {
	s.closeOnce.Do(func() { err = closeFD(s.fd) })
	return err
}
