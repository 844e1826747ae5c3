// Package transport owns Discord's voice UDP transport: IP discovery (see
// discovery.go) and the transport encryption, the AEAD
// "rtpsize" modes that protect each RTP packet between a client and the voice
// server. The RTP header up to and including the extension header (but not
// the extension body) is authenticated as additional data; everything after it
// is encrypted; the 16-byte tag follows, then a 4-byte big-endian nonce
// counter, which both sides pad with zeros to the cipher's nonce size.
//
// https://docs.discord.com/developers/topics/voice-connections#transport-encryption-modes
package transport

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// Mode names a transport encryption mode as the voice gateway spells it.
type Mode string

// The transport encryption modes this package implements.
const (
	AES256GCM         Mode = "aead_aes256_gcm_rtpsize"
	XChaCha20Poly1305 Mode = "aead_xchacha20_poly1305_rtpsize"
)

// Supported lists the modes in order of preference: Discord recommends AES-GCM
// when the server offers it; XChaCha20-Poly1305 is required of every client.
var Supported = []Mode{AES256GCM, XChaCha20Poly1305}

const (
	// KeySize is the secret_key length the Session Description carries.
	KeySize = 32
	// TagSize is the AEAD tag length of both modes.
	TagSize = 16
	// NonceSize is the nonce counter length appended to each packet.
	NonceSize = 4
	// Overhead is what Seal adds after the plaintext: tag and nonce.
	Overhead = TagSize + NonceSize
)

var (
	errMode    = errors.New("transport: unsupported encryption mode")
	errNoMode  = errors.New("transport: server offers no supported encryption mode")
	errKeySize = errors.New("transport: secret key is not 32 bytes")
	errShort   = errors.New("transport: packet shorter than header, tag and nonce")
	errAuth    = errors.New("transport: packet failed authentication")
)

// Choose picks the preferred supported mode among those a server offers.
func Choose(offered []string) (Mode, error) {
	for _, m := range Supported {
		for _, o := range offered {
			if o == string(m) {
				return m, nil
			}
		}
	}
	return "", errNoMode
}

// Cipher seals (client) or opens (server) packets of one session. A Cipher
// keeps the send nonce counter and reusable nonce buffers, so one goroutine at
// a time may Seal and one at a time may Open (the two may run concurrently).
type Cipher struct {
	mode  Mode
	aead  cipher.AEAD
	nonce uint32
	// nonceLen is aead.NonceSize(), kept so Seal and Open make one
	// interface call per packet instead of two.
	nonceLen int
	// sealNonce and openNonce are the padded nonce buffers reused by Seal
	// and Open, so that neither allocates.
	sealNonce [chacha20poly1305.NonceSizeX]byte
	openNonce [chacha20poly1305.NonceSizeX]byte
}

// New returns a Cipher for mode with the 32-byte secret key.
func New(mode Mode, key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, errKeySize
	}
	var a cipher.AEAD
	switch mode {
	case AES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if a, err = cipher.NewGCM(b); err != nil {
			return nil, err
		}
	case XChaCha20Poly1305:
		var err error
		if a, err = chacha20poly1305.NewX(key); err != nil {
			return nil, err
		}
	default:
		return nil, errMode
	}
	return &Cipher{mode: mode, aead: a, nonceLen: a.NonceSize()}, nil
}

// Mode returns the cipher's mode.
func (c *Cipher) Mode() Mode { return c.mode }

// Seal appends to dst the packet header (authenticated, sent in clear), the
// encrypted body, the tag and the 4-byte nonce, and returns the extended
// slice. The nonce counter increments before each packet, as Discord's
// clients do. Seal allocates nothing when dst has room for
// len(header)+len(body)+Overhead bytes. dst must not overlap body.
func (c *Cipher) Seal(dst, header, body []byte) []byte {
	c.nonce++
	binary.BigEndian.PutUint32(c.sealNonce[:NonceSize], c.nonce)
	dst = append(dst, header...)
	dst = c.aead.Seal(dst, c.sealNonce[:c.nonceLen], body, header)
	return append(dst, c.sealNonce[:NonceSize]...)
}

// SetNonce sets the send counter; the next Seal uses n+1 (tests use it to
// check the wrap from 0xffffffff to 0).
func (c *Cipher) SetNonce(n uint32) { c.nonce = n }

// Open decrypts packet, whose first aadLen bytes are the rtpsize header, and
// appends the plaintext body (extension body and payload) to dst. It returns
// the extended slice and the packet's nonce counter.
func (c *Cipher) Open(dst, packet []byte, aadLen int) ([]byte, uint32, error) {
	if aadLen < 0 || len(packet) < aadLen+Overhead {
		return dst, 0, errShort
	}
	nb := packet[len(packet)-NonceSize:]
	copy(c.openNonce[:NonceSize], nb)
	n := binary.BigEndian.Uint32(nb)
	ct := packet[aadLen : len(packet)-NonceSize]
	out, err := c.aead.Open(dst, c.openNonce[:c.nonceLen], ct, packet[:aadLen])
	if err != nil {
		return dst, n, errAuth
	}
	return out, n, nil
}
