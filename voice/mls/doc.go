// Package mls implements the part of Messaging Layer Security (RFC 9420)
// that Discord's DAVE protocol uses, for cipher suite 2 only
// (MLS_128_DHKEMP256_AES128GCM_SHA256_P256): the TLS presentation codec,
// key packages, the ratchet tree and TreeKEM, the key schedule and
// transcript hashes, PublicMessage framing with signatures, membership and
// confirmation tags, proposals (Add, Remove, Update, PSK) from members and
// external senders, commits with update paths, and Welcome messages.
//
// It knows nothing about Discord. PrivateMessage encryption, ReInit and
// external commits are not implemented.
package mls
