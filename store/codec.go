package store

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Snapshots are stored as JSON: readable with redis-cli/psql when debugging,
// tolerant of added fields, and versioned by the Schema field. The stored
// Version lives beside the bytes (a hash field, a column, a key prefix) and
// is authoritative over the copy inside the JSON.

// maxIDLen bounds guild, owner, key and playlist identifiers.
const maxIDLen = 128

func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w: %s %q must be 1-%d bytes of UTF-8", ErrInvalid, what, id, maxIDLen)
	}
	return nil
}

func checkLoop(l LoopMode) error {
	switch l {
	case LoopOff, LoopTrack, LoopQueue, "":
		return nil
	}
	return fmt.Errorf("%w: loop mode %q", ErrInvalid, l)
}

// checkSnapshot validates the fields a reader relies on.
func checkSnapshot(s *PlayerSnapshot, lim Limits) error {
	if len(s.Queue) > lim.MaxQueueTracks {
		return fmt.Errorf("%w: queue has %d tracks, limit %d", ErrTooLarge, len(s.Queue), lim.MaxQueueTracks)
	}
	if len(s.History) > lim.MaxHistoryTracks {
		return fmt.Errorf("%w: history has %d tracks, limit %d", ErrTooLarge, len(s.History), lim.MaxHistoryTracks)
	}
	if s.Volume < 0 || s.Volume > 1000 {
		return fmt.Errorf("%w: volume %d outside 0-1000", ErrInvalid, s.Volume)
	}
	if s.Position < 0 {
		return fmt.Errorf("%w: negative position %v", ErrInvalid, s.Position)
	}
	for i, g := range s.Effects.Equalizer {
		if !(g >= -0.25 && g <= 1.0) { // also rejects NaN
			return fmt.Errorf("%w: equalizer band %d gain %v outside -0.25..1.0", ErrInvalid, i, g)
		}
	}
	return checkLoop(s.Loop)
}

// encodeSnapshot validates s and returns its stored form.
func encodeSnapshot(s *PlayerSnapshot, lim Limits) ([]byte, error) {
	if err := checkSnapshot(s, lim); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(b) > lim.MaxSnapshotBytes {
		return nil, fmt.Errorf("%w: snapshot is %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxSnapshotBytes)
	}
	return b, nil
}

// decodeSnapshot parses stored bytes for guildID. It never panics and bounds
// the input before parsing it.
func decodeSnapshot(guildID string, data []byte, lim Limits) (PlayerSnapshot, error) {
	var s PlayerSnapshot
	if len(data) > lim.MaxSnapshotBytes {
		return s, fmt.Errorf("%w: stored snapshot is %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxSnapshotBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		// A newer build may have changed field types: report that as an
		// unknown schema, not as corruption.
		var probe struct {
			Schema int `json:"schema"`
		}
		if json.Unmarshal(data, &probe) == nil && probe.Schema > SnapshotSchema {
			return PlayerSnapshot{}, fmt.Errorf("%w: %d (this build reads up to %d)", ErrUnknownSchema, probe.Schema, SnapshotSchema)
		}
		return PlayerSnapshot{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case s.Schema < 1:
		return PlayerSnapshot{}, fmt.Errorf("%w: missing or invalid schema version", ErrCorrupt)
	case s.Schema > SnapshotSchema:
		return PlayerSnapshot{}, fmt.Errorf("%w: %d (this build reads up to %d)", ErrUnknownSchema, s.Schema, SnapshotSchema)
	}
	if s.GuildID != guildID {
		return PlayerSnapshot{}, fmt.Errorf("%w: snapshot belongs to guild %q", ErrCorrupt, s.GuildID)
	}
	if err := checkSnapshot(&s, lim); err != nil {
		return PlayerSnapshot{}, err
	}
	return s, nil
}
