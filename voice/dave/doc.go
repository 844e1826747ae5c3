// Package dave runs Discord's audio/video end-to-end encryption protocol
// (DAVE, protocol version 1) for one voice connection: the MLS group kept
// over the voice gateway opcodes 21–31 (key package, external sender,
// proposals, commit and welcome, transitions) and the media keys it exports
// to the frame transform of voice/dave/frame. Session plugs into the voice
// client as its DAVEHandler and FrameEncryptor.
//
// Protocol: https://daveprotocol.com (github.com/discord/dave-protocol, protocol.md).
package dave
