package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The embedded backend is bbolt (go.etcd.io/bbolt), chosen over SQLite
// (modernc.org/sqlite) because:
//   - it is pure Go with no cgo and one small dependency, and is the store
//     behind etcd, so its crash behaviour is heavily exercised;
//   - it is crash-safe by construction: copy-on-write B+tree pages, and a
//     commit becomes visible only when one of two alternating meta pages is
//     written and fsynced, so a crash mid-write leaves the previous commit;
//   - Quaver needs key/value access by guild id, not SQL: snapshots are
//     opaque versioned blobs, and the SQL schema lives in PostgreSQL.
// The cost is one writer at a time and an fsync per write transaction, which
// a single bare node playing in a few hundred guilds does not notice (see the
// benchmarks in store_bench_test.go).

var (
	bktSnapshots    = []byte("snapshots")
	bktPositions    = []byte("positions")
	bktSettings     = []byte("settings")
	bktEntitlements = []byte("entitlements")
	bktHistory      = []byte("history")
	bktPlaylists    = []byte("playlists")
	bktLeases       = []byte("leases")
	bktLeaseTokens  = []byte("lease_tokens")
	allBuckets      = [][]byte{bktSnapshots, bktPositions, bktSettings, bktEntitlements, bktHistory, bktPlaylists, bktLeases, bktLeaseTokens}
)

type boltBackend struct {
	db  *bolt.DB
	cfg Config
	now func() time.Time
}

func openBolt(cfg Config) (*boltBackend, error) {
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: embedded: %w", err)
		}
	}
	// Timeout: a second process on the same file gets an error, not a hang.
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: embedded: open %s: %w", cfg.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: embedded: init %s: %w", cfg.Path, err)
	}
	// A short batch window: a lone writer waits at most 2 ms for company.
	db.MaxBatchDelay = 2 * time.Millisecond
	return &boltBackend{db: db, cfg: cfg, now: time.Now}, nil
}

func (b *boltBackend) close() error { return b.db.Close() }

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// --- snapshots: value = 8-byte big-endian version || JSON ---

func (b *boltBackend) load(ctx context.Context, guildID string) (rawSnap, error) {
	if err := ctxErr(ctx); err != nil {
		return rawSnap{}, err
	}
	var r rawSnap
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktSnapshots).Get([]byte(guildID))
		if v == nil {
			return ErrNotFound
		}
		if len(v) < 8 {
			return fmt.Errorf("%w: %d-byte record", ErrCorrupt, len(v))
		}
		r.version = int64(binary.BigEndian.Uint64(v))
		if n := len(v) - 8; n > b.cfg.Limits.MaxSnapshotBytes {
			return fmt.Errorf("%w: stored snapshot is %d bytes, limit %d", ErrTooLarge, n, b.cfg.Limits.MaxSnapshotBytes)
		}
		r.data = bytes.Clone(v[8:])
		if p := tx.Bucket(bktPositions).Get([]byte(guildID)); len(p) == 8 {
			r.pos, r.hasPos = time.Duration(binary.BigEndian.Uint64(p)), true
		}
		return nil
	})
	return r, err
}

func (b *boltBackend) cas(ctx context.Context, guildID string, data []byte, expect int64) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	// Batch coalesces concurrent writers (many guilds checkpointing at once)
	// into one commit and one fsync. A conflict is reported through outcome,
	// not as the fn's error, so it does not force the batch to be retried solo;
	// fn may run more than once and recomputes outcome each time.
	var outcome error
	err := b.db.Batch(func(tx *bolt.Tx) error {
		outcome = nil
		bk := tx.Bucket(bktSnapshots)
		var cur int64
		if v := bk.Get([]byte(guildID)); len(v) >= 8 {
			cur = int64(binary.BigEndian.Uint64(v))
		} else if v != nil {
			cur = -1 // a corrupt record is only replaced by an explicit Delete
		}
		if cur != expect {
			outcome = fmt.Errorf("%w: stored version %d, expected %d", ErrVersionConflict, cur, expect)
			return nil
		}
		rec := make([]byte, 8+len(data))
		binary.BigEndian.PutUint64(rec, uint64(expect+1))
		copy(rec[8:], data)
		if err := bk.Put([]byte(guildID), rec); err != nil {
			return err
		}
		return tx.Bucket(bktPositions).Delete([]byte(guildID))
	})
	if err != nil {
		return err
	}
	return outcome
}

func (b *boltBackend) checkpoint(ctx context.Context, guildID string, pos time.Duration) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	var outcome error
	err := b.db.Batch(func(tx *bolt.Tx) error {
		outcome = nil
		if tx.Bucket(bktSnapshots).Get([]byte(guildID)) == nil {
			outcome = ErrNotFound
			return nil
		}
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], uint64(pos))
		return tx.Bucket(bktPositions).Put([]byte(guildID), p[:])
	})
	if err != nil {
		return err
	}
	return outcome
}

func (b *boltBackend) guilds(ctx context.Context) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var ids []string
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktSnapshots).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	return ids, err
}

func (b *boltBackend) remove(ctx context.Context, guildID string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bktSnapshots).Delete([]byte(guildID)); err != nil {
			return err
		}
		return tx.Bucket(bktPositions).Delete([]byte(guildID))
	})
}

// putRawSnapshot stores arbitrary bytes as a snapshot (tests use it to plant corrupt records).
func (b *boltBackend) putRawSnapshot(guildID string, version int64, data []byte) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		rec := make([]byte, 8+len(data))
		binary.BigEndian.PutUint64(rec, uint64(version))
		copy(rec[8:], data)
		return tx.Bucket(bktSnapshots).Put([]byte(guildID), rec)
	})
}

// --- JSON records ---

func (b *boltBackend) getJSON(ctx context.Context, bucket []byte, key string, v any) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return b.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucket).Get([]byte(key))
		if raw == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrCorrupt, bucket, key, err)
		}
		return nil
	})
}

func (b *boltBackend) putJSON(ctx context.Context, bucket []byte, key string, v any) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), raw) })
}

// Settings

func (b *boltBackend) Get(ctx context.Context, guildID string) (GuildSettings, error) {
	if err := checkID("guild id", guildID); err != nil {
		return GuildSettings{}, guildErr("get settings", guildID, err)
	}
	var s GuildSettings
	err := b.getJSON(ctx, bktSettings, guildID, &s)
	if errors.Is(err, ErrNotFound) {
		return DefaultGuildSettings(guildID), nil
	}
	return s, guildErr("get settings", guildID, err)
}

func (b *boltBackend) Put(ctx context.Context, s GuildSettings) error {
	if err := checkSettings(&s); err != nil {
		return guildErr("put settings", s.GuildID, err)
	}
	return guildErr("put settings", s.GuildID, b.putJSON(ctx, bktSettings, s.GuildID, s))
}

// Entitlements

func (b *boltBackend) Upsert(ctx context.Context, e Entitlement) error {
	if err := checkEntitlement(&e); err != nil {
		return err
	}
	return b.putJSON(ctx, bktEntitlements, e.ID, e)
}

func (b *boltBackend) getEntitlement(ctx context.Context, id string) (Entitlement, error) {
	var e Entitlement
	err := b.getJSON(ctx, bktEntitlements, id, &e)
	return e, err
}

func (b *boltBackend) Active(ctx context.Context, guildID, userID string, at time.Time) ([]Entitlement, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var out []Entitlement
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktEntitlements).ForEach(func(k, v []byte) error {
			var e Entitlement
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: entitlement %q: %v", ErrCorrupt, k, err)
			}
			if entitlementActive(&e, guildID, userID, at) {
				out = append(out, e)
			}
			return nil
		})
	})
	sortEntitlements(out)
	return out, err
}

// History: one nested bucket per guild, keyed by a big-endian sequence.

func (b *boltBackend) Add(ctx context.Context, e HistoryEntry) error {
	if err := checkHistory(&e); err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return guildErr("add history", e.GuildID, fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	keep := uint64(b.cfg.Limits.HistoryPerGuild)
	return guildErr("add history", e.GuildID, b.db.Update(func(tx *bolt.Tx) error {
		g, err := tx.Bucket(bktHistory).CreateBucketIfNotExists([]byte(e.GuildID))
		if err != nil {
			return err
		}
		seq, err := g.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := g.Put(k[:], raw); err != nil {
			return err
		}
		if seq <= keep {
			return nil
		}
		var old [][]byte
		c := g.Cursor()
		for ck, _ := c.First(); ck != nil && binary.BigEndian.Uint64(ck) <= seq-keep; ck, _ = c.Next() {
			old = append(old, bytes.Clone(ck))
		}
		for _, ok := range old {
			if err := g.Delete(ok); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (b *boltBackend) Recent(ctx context.Context, guildID string, limit int) ([]HistoryEntry, error) {
	if err := checkID("guild id", guildID); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var out []HistoryEntry
	err := b.db.View(func(tx *bolt.Tx) error {
		g := tx.Bucket(bktHistory).Bucket([]byte(guildID))
		if g == nil {
			return nil
		}
		c := g.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var e HistoryEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: history entry: %v", ErrCorrupt, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, guildErr("recent history", guildID, err)
}

// Playlists: one nested bucket per owner, keyed by name.

func (b *boltBackend) Save(ctx context.Context, p Playlist) error {
	if err := checkPlaylist(&p, b.cfg.Limits); err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		o, err := tx.Bucket(bktPlaylists).CreateBucketIfNotExists([]byte(p.OwnerID))
		if err != nil {
			return err
		}
		return o.Put([]byte(p.Name), raw)
	})
}

func (b *boltBackend) getPlaylist(ctx context.Context, ownerID, name string) (Playlist, error) {
	if err := ctxErr(ctx); err != nil {
		return Playlist{}, err
	}
	var p Playlist
	err := b.db.View(func(tx *bolt.Tx) error {
		o := tx.Bucket(bktPlaylists).Bucket([]byte(ownerID))
		if o == nil {
			return ErrNotFound
		}
		raw := o.Get([]byte(name))
		if raw == nil {
			return ErrNotFound
		}
		if int64(len(raw)) > int64(b.cfg.Limits.MaxPlaylistTracks)*8192 {
			return fmt.Errorf("%w: playlist record is %d bytes", ErrTooLarge, len(raw))
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("%w: playlist %q of %q: %v", ErrCorrupt, name, ownerID, err)
		}
		return nil
	})
	return p, err
}

func (b *boltBackend) Names(ctx context.Context, ownerID string) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var names []string
	err := b.db.View(func(tx *bolt.Tx) error {
		o := tx.Bucket(bktPlaylists).Bucket([]byte(ownerID))
		if o == nil {
			return nil
		}
		return o.ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	sort.Strings(names)
	return names, err
}

func (b *boltBackend) deletePlaylist(ctx context.Context, ownerID, name string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		o := tx.Bucket(bktPlaylists).Bucket([]byte(ownerID))
		if o == nil {
			return nil
		}
		return o.Delete([]byte(name))
	})
}

// Leases: local to this file, for a single node. The fencing counter lives in
// its own bucket and survives releases and restarts.

type boltLease struct {
	Owner   string    `json:"owner"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires"`
}

func (b *boltBackend) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(key, owner, ttl); err != nil {
		return Lease{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return Lease{}, err
	}
	var out Lease
	err := b.db.Update(func(tx *bolt.Tx) error {
		now := b.now()
		var cur boltLease
		if raw := tx.Bucket(bktLeases).Get([]byte(key)); raw != nil {
			if err := json.Unmarshal(raw, &cur); err != nil {
				return fmt.Errorf("%w: lease %q: %v", ErrCorrupt, key, err)
			}
			if now.Before(cur.Expires) && cur.Owner != owner {
				return fmt.Errorf("%w: %q held by %q", ErrLeaseHeld, key, cur.Owner)
			}
			if !now.Before(cur.Expires) {
				cur = boltLease{}
			}
		}
		if cur.Token == 0 {
			tokens := tx.Bucket(bktLeaseTokens)
			var n uint64
			if raw := tokens.Get([]byte(key)); len(raw) == 8 {
				n = binary.BigEndian.Uint64(raw)
			}
			n++
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], n)
			if err := tokens.Put([]byte(key), buf[:]); err != nil {
				return err
			}
			cur.Token = int64(n)
		}
		cur.Owner, cur.Expires = owner, now.Add(ttl)
		raw, _ := json.Marshal(cur)
		out = Lease{Key: key, Owner: owner, Token: cur.Token, Expires: cur.Expires}
		return tx.Bucket(bktLeases).Put([]byte(key), raw)
	})
	return out, err
}

func (b *boltBackend) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(l.Key, l.Owner, ttl); err != nil {
		return Lease{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return Lease{}, err
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		now := b.now()
		var cur boltLease
		raw := tx.Bucket(bktLeases).Get([]byte(l.Key))
		if raw == nil || json.Unmarshal(raw, &cur) != nil || cur.Owner != l.Owner || cur.Token != l.Token || !now.Before(cur.Expires) {
			return fmt.Errorf("%w: %q token %d", ErrLeaseLost, l.Key, l.Token)
		}
		cur.Expires = now.Add(ttl)
		l.Expires = cur.Expires
		raw, _ = json.Marshal(cur)
		return tx.Bucket(bktLeases).Put([]byte(l.Key), raw)
	})
	if err != nil {
		return Lease{}, err
	}
	return l, nil
}

func (b *boltBackend) Release(ctx context.Context, l Lease) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		var cur boltLease
		raw := tx.Bucket(bktLeases).Get([]byte(l.Key))
		if raw == nil || json.Unmarshal(raw, &cur) != nil || cur.Owner != l.Owner || cur.Token != l.Token {
			return nil
		}
		return tx.Bucket(bktLeases).Delete([]byte(l.Key))
	})
}

// boltEntitlements and boltPlaylists give the backend's Get/Delete methods
// the names their interfaces use (the backend's own Get is the Settings one).
type boltEntitlements struct{ *boltBackend }

func (v boltEntitlements) Get(ctx context.Context, id string) (Entitlement, error) {
	return v.getEntitlement(ctx, id)
}

type boltPlaylists struct{ *boltBackend }

func (v boltPlaylists) Get(ctx context.Context, ownerID, name string) (Playlist, error) {
	return v.getPlaylist(ctx, ownerID, name)
}

func (v boltPlaylists) Delete(ctx context.Context, ownerID, name string) error {
	return v.deletePlaylist(ctx, ownerID, name)
}
