//go:build !linux

package voicetest

import (
	"net"
	"time"

	"github.com/quaverbot/quaver/voice/transport"
)

// udpLoop reads media and IP discovery packets one at a time until the
// socket closes (Linux reads in batches; see udp_linux.go).
func (s *Server) udpLoop() {
	var buf [udpMaxPacket]byte
	var out [transport.DiscoveryLen]byte
	for {
		n, src, err := s.udp.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		s.handleUDP(buf[:n], src, time.Now(), &out)
	}
}

// enableRxTimestamps is a no-op where arrival times come from time.Now.
func enableRxTimestamps(*net.UDPConn) {}
