// Package ogg owns the Ogg container for Opus audio: an OpusWriter that
// writes standard Ogg Opus files (RFC 7845 over RFC 3533) and an OpusReader
// that reads the first Opus stream of any Ogg file, with page checksum
// verification, resynchronisation after damage and granule-position seeking.
package ogg
