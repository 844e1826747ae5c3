package rtp

import (
	"bytes"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want int // AAD length
	}{
		{"plain", Header{PayloadType: PayloadType, SequenceNumber: 65535, Timestamp: 0xfffffff0, SSRC: 0xdeadbeef}, 12},
		{"marker", Header{Marker: true, PayloadType: PayloadType, SequenceNumber: 1, Timestamp: 960, SSRC: 7}, 12},
		{"csrc", Header{PayloadType: PayloadType, CSRCCount: 2, CSRC: [15]uint32{1, 2}, SSRC: 9}, 20},
		{"ext", Header{PayloadType: PayloadType, Extension: true, ExtensionProfile: 0xBEDE, ExtensionWords: 1, SSRC: 9}, 16},
		{"csrc+ext", Header{PayloadType: PayloadType, CSRCCount: 15, Extension: true, ExtensionProfile: 0xBEDE, ExtensionWords: 3}, 12 + 60 + 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.h.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.want {
				t.Fatalf("marshalled %d bytes, want %d", len(b), tc.want)
			}
			if b[0]>>6 != 2 {
				t.Fatalf("version bits %d", b[0]>>6)
			}
			var got Header
			n, err := got.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want || got != tc.h {
				t.Fatalf("round trip: n=%d got %+v want %+v", n, got, tc.h)
			}
		})
	}
}

// TestKnownBytes checks the layout against a header written by hand from
// RFC 3550 section 5.1 (the one @discordjs/voice sends: 0x80 0x78 ...).
func TestKnownBytes(t *testing.T) {
	raw := []byte{0x80, 0x78, 0x12, 0x34, 0x00, 0x00, 0x03, 0xc0, 0x01, 0x02, 0x03, 0x04}
	var h Header
	if _, err := h.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if h.PayloadType != 0x78 || h.SequenceNumber != 0x1234 || h.Timestamp != 960 || h.SSRC != 0x01020304 {
		t.Fatalf("parsed %+v", h)
	}
	b, _ := h.Marshal()
	if !bytes.Equal(b, raw) {
		t.Fatalf("marshal % x, want % x", b, raw)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"short", []byte{0x80, 0x78, 0, 0}},
		{"version1", append([]byte{0x40, 0x78}, make([]byte, 10)...)},
		{"csrc beyond end", append([]byte{0x83, 0x78}, make([]byte, 10)...)},
		{"ext header beyond end", append([]byte{0x90, 0x78}, make([]byte, 12)...)},
	}
	for _, tc := range tests {
		var h Header
		if _, err := h.Unmarshal(tc.pkt); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestPayload(t *testing.T) {
	h := Header{Extension: true, ExtensionWords: 1}
	body := []byte{0x10, 0, 0, 0, 0xAA, 0xBB}
	p, err := h.Payload(body)
	if err != nil || !bytes.Equal(p, []byte{0xAA, 0xBB}) {
		t.Fatalf("payload %x %v", p, err)
	}
	h = Header{Padding: true}
	p, err = h.Payload([]byte{1, 2, 3, 0, 2})
	if err != nil || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("padding: %x %v", p, err)
	}
	if _, err := (&Header{Padding: true}).Payload([]byte{1, 9}); err == nil {
		t.Fatal("oversized padding accepted")
	}
	if _, err := (&Header{Extension: true, ExtensionWords: 4}).Payload([]byte{1}); err == nil {
		t.Fatal("oversized extension accepted")
	}
}

func TestNoAllocs(t *testing.T) {
	h := Header{PayloadType: PayloadType, SequenceNumber: 5, Timestamp: 9, SSRC: 1, Extension: true, ExtensionWords: 1}
	buf := make([]byte, 64)
	a := testing.AllocsPerRun(100, func() {
		n, _ := h.MarshalTo(buf)
		var g Header
		_, _ = g.Unmarshal(buf[:n+4])
	})
	if a != 0 {
		t.Fatalf("%v allocs per marshal+unmarshal", a)
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	h := Header{PayloadType: PayloadType, SequenceNumber: 5, Timestamp: 9, SSRC: 1}
	buf, _ := h.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		var g Header
		_, _ = g.Unmarshal(buf)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, h := range []Header{
		{PayloadType: PayloadType, SSRC: 1},
		{CSRCCount: 3, Extension: true, ExtensionWords: 2},
		{Padding: true, Marker: true},
	} {
		b, _ := h.Marshal()
		f.Add(append(b, 1, 2, 3, 4, 5, 6, 7, 8, 2))
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var h Header
		n, err := h.Unmarshal(pkt)
		if err != nil {
			return
		}
		if n > len(pkt) {
			t.Fatalf("header length %d beyond packet %d", n, len(pkt))
		}
		_, _ = h.Payload(pkt[n:])
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, pkt[:n]) {
			t.Fatalf("re-marshal differs: % x vs % x", b, pkt[:n])
		}
	})
}
