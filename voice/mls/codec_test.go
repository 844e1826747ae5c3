package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestVarintRejects(t *testing.T) {
	cases := []struct {
		in   []byte
		want error
	}{
		{[]byte{0x40, 0x3f}, ErrBadVarint},             // 63 in two bytes: not minimal
		{[]byte{0x80, 0x00, 0x3f, 0xff}, ErrBadVarint}, // 16383 in four bytes
		{[]byte{0xc0, 0, 0, 0, 0, 0, 0, 1}, ErrBadVarint},
		{[]byte{0x40}, ErrTruncated},
		{[]byte{0x80, 0x00, 0x40}, ErrTruncated},
		{nil, ErrTruncated},
	}
	for _, c := range cases {
		if _, _, err := decodeVarint(c.in); !errors.Is(err, c.want) {
			t.Errorf("%x: got %v want %v", c.in, err, c.want)
		}
	}
}

func TestVectorLengthBoundedByInput(t *testing.T) {
	// A header claiming 1 GiB over 3 bytes of input must fail, not allocate.
	r := &reader{b: []byte{0xbf, 0xff, 0xff, 0xff, 1, 2, 3}}
	if p := r.vec(); p != nil || !errors.Is(r.err, ErrTruncated) {
		t.Fatalf("got %x, %v", p, r.err)
	}
}

func TestNestedWriterHeaderSizes(t *testing.T) {
	for _, n := range []int{0, 63, 64, 16383, 16384} {
		body := bytes.Repeat([]byte{7}, n)
		w := &writer{}
		w.nested(func(w *writer) { w.raw(body) })
		r := &reader{b: w.b}
		got := r.vec()
		if err := r.done(); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(w.b) != varintSize(n)+n {
			t.Fatalf("n=%d: encoded %d bytes", n, len(w.b))
		}
	}
}

func TestDuplicateExtensionsRejected(t *testing.T) {
	var g GroupContext
	g.Version, g.CipherSuite = ProtocolMLS10, SuiteP256
	g.Extensions = []Extension{{Type: 9, Data: []byte{1}}, {Type: 9}}
	if err := new(GroupContext).Unmarshal(g.Marshal()); !errors.Is(err, ErrBadValue) {
		t.Fatalf("got %v", err)
	}
}
