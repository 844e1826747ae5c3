package voicetest

import (
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
)

func tlsListener(ln net.Listener, ca *CA) net.Listener {
	return tls.NewListener(ln, ca.serverConfig())
}

// handleUDP processes one datagram. It allocates nothing in steady state
// (unless the DelayUDP fault is on).
func (s *Server) handleUDP(pkt []byte, src netip.AddrPort, now time.Time, out *[transport.DiscoveryLen]byte) {
	if s.dropUDP.Load() {
		return
	}
	if d := s.delayUDP.Load(); d > 0 {
		select {
		case s.delayQ <- delayed{due: now.Add(time.Duration(d)), pkt: append([]byte(nil), pkt...), src: src}:
		default: // queue full: the packet is lost, as on a congested path
		}
		return
	}
	s.process(pkt, src, now, out)
}

func (s *Server) process(pkt []byte, src netip.AddrPort, now time.Time, out *[transport.DiscoveryLen]byte) {
	if len(pkt) == transport.DiscoveryLen && pkt[0] == 0 && pkt[1] == transport.DiscoveryRequest {
		var d transport.Discovery
		if d.Unmarshal(pkt) != nil {
			return
		}
		if _, ok := s.bySSRC.load(d.SSRC); !ok {
			return
		}
		resp := transport.Discovery{Type: transport.DiscoveryResponse, SSRC: d.SSRC, Addr: src}
		if _, err := resp.MarshalTo(out[:]); err == nil {
			_, _ = s.udp.WriteToUDPAddrPort(out[:], src)
		}
		return
	}
	var h rtp.Header
	aad, err := h.Unmarshal(pkt)
	if err != nil || h.PayloadType != rtp.PayloadType {
		return // RTCP and other payload types are not recorded
	}
	ss, ok := s.bySSRC.load(h.SSRC)
	if !ok {
		return
	}
	ss.receive(&h, pkt, aad, now)
}

// receive decrypts and records one RTP packet of this session.
func (ss *Session) receive(h *rtp.Header, pkt []byte, aad int, now time.Time) {
	ss.rxMu.Lock()
	defer ss.rxMu.Unlock()
	if ss.opener == nil {
		return
	}
	// Decrypt in place: the body overwrites its own ciphertext in the
	// reader's buffer, so a loaded server touches no per-session buffer.
	plain, _, err := ss.opener.Open(pkt[aad:aad], pkt, aad)
	if err != nil {
		ss.rec.decryptFailed()
		return
	}
	payload, err := h.Payload(plain)
	if err != nil {
		ss.rec.decryptFailed()
		return
	}
	ss.rec.record(h, payload, now, ss.speaking.Load() != 0)
}

func (s *Server) delayLoop() {
	var out [transport.DiscoveryLen]byte
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case d := <-s.delayQ:
			if wait := time.Until(d.due); wait > 0 {
				t.Reset(wait)
				select {
				case <-t.C:
				case <-s.closed:
					return
				}
			}
			s.process(d.pkt, d.src, time.Now(), &out)
		}
	}
}
