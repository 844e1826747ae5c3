package transport

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestDiscoveryRoundTrip(t *testing.T) {
	tests := []Discovery{
		{Type: DiscoveryRequest, SSRC: 0xabcdef01},
		{Type: DiscoveryResponse, SSRC: 7, Addr: netip.MustParseAddrPort("127.0.0.1:50001")},
		{Type: DiscoveryResponse, SSRC: 7, Addr: netip.MustParseAddrPort("[2001:db8::1]:443")},
	}
	for _, d := range tests {
		buf := make([]byte, DiscoveryLen)
		if _, err := d.MarshalTo(buf); err != nil {
			t.Fatal(err)
		}
		// Byte layout as the voice documentation gives it.
		if binary.BigEndian.Uint16(buf) != d.Type || binary.BigEndian.Uint16(buf[2:]) != 70 || binary.BigEndian.Uint32(buf[4:]) != d.SSRC {
			t.Fatalf("header bytes % x", buf[:8])
		}
		if d.Addr.IsValid() && string(buf[8:8+len(d.Addr.Addr().String())]) != d.Addr.Addr().String() {
			t.Fatalf("address field %q", buf[8:24])
		}
		var got Discovery
		if err := got.Unmarshal(buf); err != nil {
			t.Fatal(err)
		}
		if got != d {
			t.Fatalf("got %+v want %+v", got, d)
		}
	}
}

func TestDiscoveryErrors(t *testing.T) {
	good := make([]byte, DiscoveryLen)
	(&Discovery{Type: DiscoveryResponse, Addr: netip.MustParseAddrPort("1.2.3.4:5")}).MarshalTo(good)
	mut := func(f func(b []byte)) []byte { b := append([]byte{}, good...); f(b); return b }
	tests := map[string][]byte{
		"short":    good[:73],
		"type":     mut(func(b []byte) { b[1] = 9 }),
		"length":   mut(func(b []byte) { b[3] = 71 }),
		"bad-addr": mut(func(b []byte) { copy(b[8:], "not-an-ip") }),
		"unterminated": mut(func(b []byte) {
			for i := 8; i < 72; i++ {
				b[i] = '1'
			}
		}),
	}
	for name, b := range tests {
		var d Discovery
		if err := d.Unmarshal(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDiscovery(f *testing.F) {
	b := make([]byte, DiscoveryLen)
	(&Discovery{Type: DiscoveryResponse, SSRC: 3, Addr: netip.MustParseAddrPort("10.0.0.1:9")}).MarshalTo(b)
	f.Add(b)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var d Discovery
		if d.Unmarshal(pkt) != nil {
			return
		}
		out := make([]byte, DiscoveryLen)
		if _, err := d.MarshalTo(out); err != nil {
			t.Fatal(err)
		}
		var e Discovery
		if err := e.Unmarshal(out); err != nil || e != d {
			t.Fatalf("re-parse %+v vs %+v (%v)", e, d, err)
		}
	})
}
