// Package frame is DAVE's media frame transform (protocol.md "Encoded Frame
// Transforms"; https://daveprotocol.com/#encoded-frame-transforms): the
// per-sender key ratchet seeded from the MLS exporter, and the Encryptor and
// Decryptor of protocol frames (AES-128-GCM with the tag truncated to 8
// bytes, a ULEB128 truncated nonce, optional unencrypted ranges, the
// supplemental data size and the 0xFAFA marker). Opus frames are encrypted
// whole; the silence frame F8 FF FE always passes through.
package frame
