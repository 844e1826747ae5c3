package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeSnapshot(t *testing.T) {
	lim := DefaultLimits()
	good, err := encodeSnapshot(&PlayerSnapshot{Schema: 1, GuildID: "g1", Volume: 100, Queue: []Track{{ID: "a"}}}, lim)
	if err != nil {
		t.Fatal(err)
	}
	small := lim
	small.MaxSnapshotBytes = 64
	small.MaxQueueTracks = 2
	tests := []struct {
		name  string
		guild string
		data  string
		lim   Limits
		want  error
	}{
		{"good", "g1", string(good), lim, nil},
		{"other guild's record", "g2", string(good), lim, ErrCorrupt},
		{"null", "g1", "null", lim, ErrCorrupt},
		{"array", "g1", "[1,2]", lim, ErrCorrupt},
		{"schema zero", "g1", `{"schema":0,"guild_id":"g1"}`, lim, ErrCorrupt},
		{"schema string", "g1", `{"schema":"1","guild_id":"g1"}`, lim, ErrCorrupt},
		{"schema newer", "g1", `{"schema":2,"guild_id":"g1"}`, lim, ErrUnknownSchema},
		{"schema huge", "g1", `{"schema":1e300,"guild_id":"g1"}`, lim, ErrCorrupt},
		{"over byte limit", "g1", string(good) + strings.Repeat(" ", 64), small, ErrTooLarge},
		{"queue over limit", "g1", `{"schema":1,"guild_id":"g1","queue":[{},{},{}]}`, small, ErrTooLarge},
		{"negative position", "g1", `{"schema":1,"guild_id":"g1","position":-5}`, lim, ErrInvalid},
		{"bad loop", "g1", `{"schema":1,"guild_id":"g1","loop":"forever"}`, lim, ErrInvalid},
		{"volume too high", "g1", `{"schema":1,"guild_id":"g1","volume":100000}`, lim, ErrInvalid},
		{"trailing garbage", "g1", `{"schema":1,"guild_id":"g1"}x`, lim, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := decodeSnapshot(tc.guild, []byte(tc.data), tc.lim)
			if tc.want == nil {
				if err != nil || s.GuildID != tc.guild || len(s.Queue) != 1 {
					t.Fatalf("decode = %+v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxSnapshotBytes = 1000
	p := PlayerSnapshot{Schema: 1, GuildID: "g", Queue: []Track{{Title: strings.Repeat("x", 2000)}}}
	if _, err := encodeSnapshot(&p, lim); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("2 KB snapshot with 1000-byte limit: %v", err)
	}
}

// FuzzDecodeSnapshot: no input makes the decoder panic, and whatever it
// accepts survives an encode/decode round trip unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	lim := DefaultLimits()
	lim.MaxSnapshotBytes = 1 << 16
	full := sampleSnapshot("g1")
	full.Schema, full.Version, full.UpdatedAt = 1, 3, time.Unix(1700000000, 0).UTC()
	b, _ := json.Marshal(full)
	f.Add(b)
	f.Add([]byte(`{"schema":1,"guild_id":"g1"}`))
	f.Add([]byte(`{"schema":2,"guild_id":"g1"}`))
	f.Add([]byte(`{"schema":1,"guild_id":"g1","queue":[{"id":"a","duration":-1}],"effects":{"equalizer":[1,2]}}`))
	f.Add([]byte(`{"schema":1,"guild_id":"g1","current":null,"history":null}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot("g1", data, lim)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownSchema) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		enc, err := encodeSnapshot(&s, lim)
		if err != nil {
			// Re-encoding can grow the record (escaping), never fail otherwise.
			if errors.Is(err, ErrTooLarge) {
				return
			}
			t.Fatalf("accepted snapshot does not re-encode: %v", err)
		}
		again, err := decodeSnapshot("g1", enc, lim)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the snapshot:\n%s\n%s", a, b)
		}
	})
}
