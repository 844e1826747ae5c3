// Package dave implements Discord's audio/video end-to-end encryption
// protocol (DAVE, protocol version 1) on top of voice/mls: the per-sender
// media key ratchet and the Opus frame transform (AES-128-GCM with an 8-byte
// tag, ULEB128 nonce, supplemental data and the 0xFAFA marker), and the
// Session that runs the MLS group over the voice gateway opcodes 21–31 and
// plugs into the voice client as its DAVEHandler and FrameEncryptor.
//
// Protocol: https://daveprotocol.com (github.com/discord/dave-protocol, protocol.md).
package dave
