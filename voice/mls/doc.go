// Package mls implements the part of Messaging Layer Security (RFC 9420)
// that Discord's DAVE protocol uses, for cipher suite 2 only
// (MLS_128_DHKEMP256_AES128GCM_SHA256_P256): the TLS presentation codec with
// variable-length vector headers, key packages, the ratchet tree and
// TreeKEM, the key schedule, transcript hashes and exporter, PublicMessage
// framing with signatures, membership and confirmation tags, proposals (Add,
// Remove, Update, PreSharedKey, GroupContextExtensions) from members and
// external senders, commits with update paths, and Welcome messages.
//
// A member holds a Group: CreateGroup or JoinFromWelcome make one,
// ProcessMessage verifies and queues proposals and applies commits,
// CommitPendingProposals commits what was queued (the group moves to the
// next epoch when its commit comes back or MergePendingCommit is called),
// and Exporter and EpochAuthenticator give the epoch's derived secrets.
// An ExternalView follows the public tree from outside, as an external
// sender does. Every wire structure has Marshal and Unmarshal; decoding
// accepts only the canonical encoding and bounds every length by the input.
//
// The package knows nothing about Discord. Not implemented: other cipher
// suites, PrivateMessage in Group (the secret tree and message protection
// exist as internal primitives, checked by the working group's vectors),
// ReInit, external commits (ExternalInit, new_member_commit), resumption
// PSKs when joining, key package lifetime checks and cross-member
// capability checks.
package mls
