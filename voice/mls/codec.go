package mls

import (
	"encoding/binary"
	"errors"
)

// TLS presentation language codec with MLS variable-length vector headers
// (RFC 9420 §2.1.2). Lengths are QUIC-style varints of 1, 2 or 4 bytes; the
// two top bits of the first byte give the size. The minimum encoding is
// required, and 0b11 is reserved.

var (
	// ErrTruncated means the input ended inside a structure.
	ErrTruncated = errors.New("mls: truncated input")
	// ErrTrailingData means bytes remained after a complete structure.
	ErrTrailingData = errors.New("mls: trailing data after structure")
	// ErrBadVarint means a vector length header is reserved or not minimally encoded.
	ErrBadVarint = errors.New("mls: invalid variable-length header")
	// ErrBadValue means a field holds a value the protocol does not allow here.
	ErrBadValue = errors.New("mls: invalid field value")
)

// writer appends TLS-encoded values to a byte slice.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(p []byte) { w.b = append(w.b, p...) }

func (w *writer) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

// appendVarint appends the minimal varint header for n (n ≤ maxVarint).
func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func varintSize(n int) int {
	switch {
	case n < 1<<6:
		return 1
	case n < 1<<14:
		return 2
	default:
		return 4
	}
}

// vec writes an opaque<V>.
func (w *writer) vec(p []byte) {
	w.b = appendVarint(w.b, len(p))
	w.b = append(w.b, p...)
}

// nested writes a vector whose body fn produces.
func (w *writer) nested(fn func(w *writer)) {
	start := len(w.b)
	fn(w)
	n := len(w.b) - start
	hs := varintSize(n)
	w.b = append(w.b, make([]byte, hs)...)
	copy(w.b[start+hs:], w.b[start:start+n])
	appendVarint(w.b[start:start], n)
}

// optional writes the presence byte and, if present, the value via fn.
func (w *writer) optional(present bool, fn func(w *writer)) {
	w.bool(present)
	if present {
		fn(w)
	}
}

// reader consumes TLS-encoded values; the first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(ErrTruncated)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() uint8 {
	p := r.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) u16() uint16 {
	p := r.take(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (r *reader) u32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *reader) u64() uint64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (r *reader) bool() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail(ErrBadValue)
		return false
	}
}

// varint reads a vector length header.
func (r *reader) varint() int {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(ErrTruncated)
		return 0
	}
	n, size, err := decodeVarint(r.b)
	if err != nil {
		r.fail(err)
		return 0
	}
	r.b = r.b[size:]
	return n
}

// decodeVarint decodes a vector length header at the start of b and returns
// the length and the header size.
func decodeVarint(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	switch b[0] >> 6 {
	case 0:
		return int(b[0]), 1, nil
	case 1:
		if len(b) < 2 {
			return 0, 0, ErrTruncated
		}
		n = int(b[0]&0x3f)<<8 | int(b[1])
		if n < 1<<6 {
			return 0, 0, ErrBadVarint
		}
		return n, 2, nil
	case 2:
		if len(b) < 4 {
			return 0, 0, ErrTruncated
		}
		n = int(b[0]&0x3f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n < 1<<14 {
			return 0, 0, ErrBadVarint
		}
		return n, 4, nil
	default:
		return 0, 0, ErrBadVarint
	}
}

// vec reads an opaque<V>; the result aliases the input.
func (r *reader) vec() []byte {
	n := r.varint()
	return r.take(n)
}

// vecCopy reads an opaque<V> into a fresh slice.
func (r *reader) vecCopy() []byte {
	p := r.vec()
	if p == nil {
		if r.err == nil {
			return []byte{}
		}
		return nil
	}
	return append([]byte(nil), p...)
}

// sub reads a vector header and returns a reader over its body.
func (r *reader) sub() *reader {
	p := r.vec()
	return &reader{b: p, err: r.err}
}

// list reads a vector of elements, calling fn until the body is consumed.
// Each element consumes at least one byte or the loop stops with an error, so
// allocation is bounded by the input length.
func (r *reader) list(fn func(r *reader)) {
	s := r.sub()
	for s.err == nil && len(s.b) > 0 {
		before := len(s.b)
		fn(s)
		if s.err == nil && len(s.b) == before {
			s.fail(ErrBadValue)
		}
	}
	r.fail(s.err)
}

func (r *reader) optional(fn func(r *reader)) bool {
	if r.bool() {
		fn(r)
		return r.err == nil
	}
	return false
}

// done reports the sticky error or trailing bytes.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return ErrTrailingData
	}
	return nil
}

// decodeAll runs fn over b and requires it to consume everything.
func decodeAll(b []byte, fn func(r *reader)) error {
	r := &reader{b: b}
	fn(r)
	return r.done()
}

func encode(fn func(w *writer)) []byte {
	w := &writer{}
	fn(w)
	return w.b
}
