package transport

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/quaverbot/quaver/voice/rtp"
	"golang.org/x/crypto/chacha20poly1305"
)

func key(t testing.TB) []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestChoose(t *testing.T) {
	tests := []struct {
		offered []string
		want    Mode
		err     bool
	}{
		{[]string{"aead_xchacha20_poly1305_rtpsize", "aead_aes256_gcm_rtpsize", "xsalsa20_poly1305"}, AES256GCM, false},
		{[]string{"xsalsa20_poly1305_lite", "aead_xchacha20_poly1305_rtpsize"}, XChaCha20Poly1305, false},
		{[]string{"xsalsa20_poly1305"}, "", true},
		{nil, "", true},
	}
	for _, tc := range tests {
		got, err := Choose(tc.offered)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Choose(%v) = %q, %v; want %q", tc.offered, got, err, tc.want)
		}
	}
}

// independentSeal builds the packet the way the voice documentation describes
// it, straight on the standard AEADs, as a judge for Cipher.Seal.
func independentSeal(t *testing.T, mode Mode, k, header, body []byte, counter uint32) []byte {
	var a cipher.AEAD
	var nonce []byte
	switch mode {
	case AES256GCM:
		b, _ := aes.NewCipher(k)
		a, _ = cipher.NewGCM(b)
		nonce = make([]byte, 12)
	default:
		a, _ = chacha20poly1305.NewX(k)
		nonce = make([]byte, 24)
	}
	binary.BigEndian.PutUint32(nonce, counter)
	out := append([]byte{}, header...)
	out = a.Seal(out, nonce, body, header)
	return append(out, nonce[:4]...)
}

func TestSealOpen(t *testing.T) {
	hdrs := []rtp.Header{
		{PayloadType: rtp.PayloadType, SequenceNumber: 1, Timestamp: 960, SSRC: 42},
		{PayloadType: rtp.PayloadType, CSRCCount: 1, CSRC: [15]uint32{5}, Extension: true, ExtensionProfile: 0xBEDE, ExtensionWords: 1, SSRC: 42},
	}
	for _, mode := range Supported {
		for i, h := range hdrs {
			k := key(t)
			c, err := New(mode, k)
			if err != nil {
				t.Fatal(err)
			}
			hb, _ := h.Marshal()
			body := append(make([]byte, h.ExtensionBodyLen()), []byte("opus frame bytes")...)
			pkt := c.Seal(nil, hb, body)
			if want := independentSeal(t, mode, k, hb, body, 1); !bytes.Equal(pkt, want) {
				t.Fatalf("%s/%d: packet differs from the documented layout", mode, i)
			}
			if len(pkt) != len(hb)+len(body)+Overhead {
				t.Fatalf("length %d", len(pkt))
			}
			if !bytes.Equal(pkt[:len(hb)], hb) {
				t.Fatal("header not sent in clear")
			}
			srv, _ := New(mode, k)
			var g rtp.Header
			aad, err := g.Unmarshal(pkt)
			if err != nil {
				t.Fatal(err)
			}
			plain, n, err := srv.Open(nil, pkt, aad)
			if err != nil || n != 1 {
				t.Fatalf("open: %v nonce %d", err, n)
			}
			payload, err := g.Payload(plain)
			if err != nil || string(payload) != "opus frame bytes" {
				t.Fatalf("payload %q %v", payload, err)
			}
			// Any flipped bit in the header, body, tag or nonce must fail.
			for _, pos := range []int{0, 3, len(hb), len(pkt) - 5, len(pkt) - 1} {
				bad := append([]byte{}, pkt...)
				bad[pos] ^= 1
				if _, _, err := srv.Open(nil, bad, aad); err == nil {
					t.Fatalf("%s: tampered byte %d accepted", mode, pos)
				}
			}
			// The counter increments per packet.
			pkt2 := c.Seal(nil, hb, body)
			if got := binary.BigEndian.Uint32(pkt2[len(pkt2)-4:]); got != 2 {
				t.Fatalf("second nonce %d", got)
			}
		}
	}
}

func TestNonceWraps(t *testing.T) {
	k := key(t)
	c, _ := New(AES256GCM, k)
	c.SetNonce(0xffffffff)
	pkt := c.Seal(nil, make([]byte, 12), []byte{1})
	if got := binary.BigEndian.Uint32(pkt[len(pkt)-4:]); got != 0 {
		t.Fatalf("nonce after wrap %d", got)
	}
}

func TestErrors(t *testing.T) {
	if _, err := New(AES256GCM, make([]byte, 16)); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := New("xsalsa20_poly1305", make([]byte, 32)); err == nil {
		t.Fatal("legacy mode accepted")
	}
	c, _ := New(XChaCha20Poly1305, key(t))
	if _, _, err := c.Open(nil, make([]byte, 20), 12); err == nil {
		t.Fatal("short packet accepted")
	}
	if _, _, err := c.Open(nil, make([]byte, 40), -1); err == nil {
		t.Fatal("negative header length accepted")
	}
}

func TestSealOpenNoAllocs(t *testing.T) {
	for _, mode := range Supported {
		k := key(t)
		c, _ := New(mode, k)
		s, _ := New(mode, k)
		hdr := make([]byte, 12)
		hdr[0] = 0x80
		body := make([]byte, 160)
		out := make([]byte, 0, 512)
		plain := make([]byte, 0, 512)
		a := testing.AllocsPerRun(200, func() {
			pkt := c.Seal(out[:0], hdr, body)
			if _, _, err := s.Open(plain[:0], pkt, 12); err != nil {
				t.Fatal(err)
			}
		})
		if a != 0 {
			t.Fatalf("%s: %v allocs per seal+open", mode, a)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, mode := range Supported {
		b.Run(string(mode), func(b *testing.B) {
			c, _ := New(mode, key(b))
			hdr := make([]byte, 12)
			body := make([]byte, 160)
			out := make([]byte, 0, 512)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				out = c.Seal(out[:0], hdr, body)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	k := make([]byte, KeySize)
	c, _ := New(AES256GCM, k)
	f.Add(c.Seal(nil, []byte{0x80, 0x78, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, []byte("x")))
	f.Add([]byte{0x90, 0x78, 0, 1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, m := range Supported {
			s, _ := New(m, k)
			var h rtp.Header
			n, err := h.Unmarshal(pkt)
			if err != nil {
				continue
			}
			plain, _, err := s.Open(nil, pkt, n)
			if err == nil {
				_, _ = h.Payload(plain)
			}
		}
	})
}
