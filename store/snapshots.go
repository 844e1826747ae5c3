package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// rawSnap is a snapshot as a backend stores it.
type rawSnap struct {
	data    []byte
	version int64
	pos     time.Duration
	hasPos  bool
}

// snapshotEngine is what a backend implements; snapshots adds encoding,
// validation and the Update loop on top, identically for every backend.
type snapshotEngine interface {
	// load returns ErrNotFound when the guild has no snapshot.
	load(ctx context.Context, guildID string) (rawSnap, error)
	// cas stores data as version expect+1 if the stored version is expect (0: absent),
	// clearing any checkpoint; ErrVersionConflict otherwise.
	cas(ctx context.Context, guildID string, data []byte, expect int64) error
	// checkpoint stores a position beside the snapshot; ErrNotFound when absent.
	checkpoint(ctx context.Context, guildID string, pos time.Duration) error
	// guilds lists the guilds that have a snapshot.
	guilds(ctx context.Context) ([]string, error)
	// remove deletes the snapshot and its checkpoint.
	remove(ctx context.Context, guildID string) error
}

// lockingEngine is implemented by backends that can read, change and write
// a snapshot under a lock (a row lock in PostgreSQL): Update then costs one
// transaction instead of read / compare-and-set rounds that can conflict.
// apply gets the stored record (found=false when none) and returns the bytes
// to store as the next version.
type lockingEngine interface {
	update(ctx context.Context, guildID string, apply func(raw rawSnap, found bool) ([]byte, error)) error
}

type snapshots struct {
	eng snapshotEngine
	cfg Config
}

func (s *snapshots) Get(ctx context.Context, guildID string) (PlayerSnapshot, error) {
	if err := checkID("guild id", guildID); err != nil {
		return PlayerSnapshot{}, guildErr("get snapshot", guildID, err)
	}
	raw, err := s.eng.load(ctx, guildID)
	if err != nil {
		return PlayerSnapshot{}, guildErr("get snapshot", guildID, err)
	}
	return s.decode(guildID, raw)
}

func (s *snapshots) decode(guildID string, raw rawSnap) (PlayerSnapshot, error) {
	snap, err := decodeSnapshot(guildID, raw.data, s.cfg.Limits)
	if err != nil {
		return PlayerSnapshot{}, guildErr("read snapshot", guildID, err)
	}
	snap.Version = raw.version
	if raw.hasPos {
		snap.Position = raw.pos
	}
	return snap, nil
}

func (s *snapshots) Put(ctx context.Context, snap PlayerSnapshot, expect int64) (int64, error) {
	if err := checkID("guild id", snap.GuildID); err != nil {
		return 0, guildErr("put snapshot", snap.GuildID, err)
	}
	if expect < 0 {
		return 0, guildErr("put snapshot", snap.GuildID, fmt.Errorf("%w: expected version %d", ErrInvalid, expect))
	}
	snap.Schema = SnapshotSchema
	snap.Version = expect + 1
	snap.UpdatedAt = time.Now().UTC()
	data, err := encodeSnapshot(&snap, s.cfg.Limits)
	if err != nil {
		return 0, guildErr("put snapshot", snap.GuildID, err)
	}
	if err := s.eng.cas(ctx, snap.GuildID, data, expect); err != nil {
		return 0, guildErr("put snapshot", snap.GuildID, err)
	}
	return expect + 1, nil
}

func (s *snapshots) Update(ctx context.Context, guildID string, fn func(*PlayerSnapshot) error) (PlayerSnapshot, error) {
	if le, ok := s.eng.(lockingEngine); ok {
		return s.updateLocked(ctx, le, guildID, fn)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.Get(ctx, guildID)
		if errors.Is(err, ErrNotFound) {
			cur, err = PlayerSnapshot{Schema: SnapshotSchema, GuildID: guildID, Loop: LoopOff, Volume: 100}, nil
		}
		if err != nil {
			return PlayerSnapshot{}, err
		}
		expect := cur.Version
		if err := fn(&cur); err != nil {
			return PlayerSnapshot{}, err
		}
		cur.GuildID = guildID
		v, err := s.Put(ctx, cur, expect)
		if err == nil {
			cur.Version = v
			return cur, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return PlayerSnapshot{}, err
		}
		if attempt >= s.cfg.UpdateRetries {
			return PlayerSnapshot{}, guildErr("update snapshot", guildID, fmt.Errorf("gave up after %d conflicts: %w", attempt+1, err))
		}
		if attempt >= 2 { // back off with jitter so contending writers spread out
			d := time.Duration(rand.IntN(200*min(attempt, 20))) * time.Microsecond
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return PlayerSnapshot{}, guildErr("update snapshot", guildID, ctx.Err())
			case <-t.C:
			}
		}
	}
}

func (s *snapshots) Checkpoint(ctx context.Context, guildID string, pos time.Duration) error {
	if err := checkID("guild id", guildID); err != nil {
		return guildErr("checkpoint", guildID, err)
	}
	if pos < 0 {
		return guildErr("checkpoint", guildID, fmt.Errorf("%w: negative position %v", ErrInvalid, pos))
	}
	return guildErr("checkpoint", guildID, s.eng.checkpoint(ctx, guildID, pos))
}

func (s *snapshots) List(ctx context.Context) ([]PlayerSnapshot, error) {
	ids, err := s.eng.guilds(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list snapshots: %w", err)
	}
	out := make([]PlayerSnapshot, 0, len(ids))
	var bad []error
	for _, id := range ids {
		snap, err := s.Get(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound): // deleted meanwhile
		case errors.Is(err, ErrUnavailable) || ctx.Err() != nil:
			return nil, err
		case err != nil:
			bad = append(bad, err)
		default:
			out = append(out, snap)
		}
	}
	return out, errors.Join(bad...)
}

func (s *snapshots) Delete(ctx context.Context, guildID string) error {
	if err := checkID("guild id", guildID); err != nil {
		return guildErr("delete snapshot", guildID, err)
	}
	return guildErr("delete snapshot", guildID, s.eng.remove(ctx, guildID))
}

func freshSnapshot(guildID string) PlayerSnapshot {
	return PlayerSnapshot{Schema: SnapshotSchema, GuildID: guildID, Loop: LoopOff, Volume: 100}
}

func (s *snapshots) updateLocked(ctx context.Context, le lockingEngine, guildID string, fn func(*PlayerSnapshot) error) (PlayerSnapshot, error) {
	if err := checkID("guild id", guildID); err != nil {
		return PlayerSnapshot{}, guildErr("update snapshot", guildID, err)
	}
	var out PlayerSnapshot
	apply := func(raw rawSnap, found bool) ([]byte, error) {
		cur := freshSnapshot(guildID)
		if found {
			var err error
			if cur, err = s.decode(guildID, raw); err != nil {
				return nil, err
			}
		}
		expect := cur.Version
		if err := fn(&cur); err != nil {
			return nil, err
		}
		cur.GuildID, cur.Schema, cur.Version, cur.UpdatedAt = guildID, SnapshotSchema, expect+1, time.Now().UTC()
		data, err := encodeSnapshot(&cur, s.cfg.Limits)
		out = cur
		return data, err
	}
	for attempt := 0; ; attempt++ {
		err := le.update(ctx, guildID, apply)
		if err == nil {
			return out, nil
		}
		// A conflict here only means two writers created the guild's first
		// snapshot at once; the loser retries and finds the row.
		if !errors.Is(err, ErrVersionConflict) || attempt >= s.cfg.UpdateRetries {
			return PlayerSnapshot{}, guildErr("update snapshot", guildID, err)
		}
	}
}
