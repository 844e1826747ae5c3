package voicetest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
)

func sealed(t *testing.T, seal *transport.Cipher, seq uint16) []byte {
	h := rtp.Header{PayloadType: rtp.PayloadType, SSRC: 77, SequenceNumber: seq, Timestamp: uint32(seq) * 960}
	hb, _ := h.Marshal()
	return seal.Seal(nil, hb, []byte{0xFC, byte(seq)})
}

func TestDropAndDelayUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newServer(t, Config{})
	ss, seal := sessionWithKey(t, s, transport.AES256GCM)
	var out [transport.DiscoveryLen]byte
	src := netip.MustParseAddrPort("127.0.0.1:9")
	s.handleUDP(sealed(t, seal, 1), src, time.Now(), &out)
	s.DropUDP(true)
	s.handleUDP(sealed(t, seal, 2), src, time.Now(), &out)
	s.handleUDP(sealed(t, seal, 3), src, time.Now(), &out)
	s.DropUDP(false)
	const delay = 80 * time.Millisecond
	s.DelayUDP(delay)
	sent := time.Now()
	s.handleUDP(sealed(t, seal, 4), src, sent, &out)
	s.DelayUDP(0)
	if err := ss.Recorder().WaitPackets(ctx, 2); err != nil {
		t.Fatal(err)
	}
	pk := ss.Recorder().Packets()
	if len(pk) != 2 || pk[1].Seq != 4 {
		t.Fatalf("packets %+v", pk)
	}
	if got := pk[1].Arrival.Sub(sent); got < delay {
		t.Fatalf("delayed packet handled after %v, want ≥ %v", got, delay)
	}
	if st := ss.Recorder().Stats(); st.Lost != 2 || st.Expected != 4 {
		t.Fatalf("stats %+v, want 2 of 4 lost", st)
	}
}

func TestTamperedPacketCountsAsDecryptFailure(t *testing.T) {
	s := newServer(t, Config{})
	ss, seal := sessionWithKey(t, s, transport.XChaCha20Poly1305)
	p := sealed(t, seal, 1)
	p[len(p)-6] ^= 0x40
	var out [transport.DiscoveryLen]byte
	s.handleUDP(p, netip.MustParseAddrPort("127.0.0.1:9"), time.Now(), &out)
	if st := ss.Recorder().Stats(); st.DecryptFailures != 1 || st.Received != 0 {
		t.Fatalf("stats %+v", st)
	}
}
