package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// The PostgreSQL backend keeps the durable records (and snapshots and leases
// when there is no Redis). Every statement is parameterized; the schema comes
// from the versioned files in migrations/, embedded in the binary.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockKey is the pg_advisory_lock key serializing migrations across
// nodes ("quaver" in ASCII).
const migrateLockKey int64 = 0x717561766572

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql in version order.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %q is not NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

type pgBackend struct {
	pool *pgxpool.Pool
	cfg  Config
	// unavailable counts operations that found the server unreachable.
	unavailable prometheus.Counter
}

func openPostgres(ctx context.Context, cfg Config, m *metrics) (*pgBackend, int, error) {
	pc, err := pgxpool.ParseConfig(cfg.PostgresURL)
	if err != nil {
		return nil, 0, fmt.Errorf("store: postgres url: %w", err)
	}
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > cfg.OpTimeout {
		pc.ConnConfig.ConnectTimeout = cfg.OpTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, 0, fmt.Errorf("store: postgres: %w", err)
	}
	b := &pgBackend{pool: pool, cfg: cfg, unavailable: m.unavailableCounter(backendPostgres)}
	n, err := b.migrate(ctx)
	if err != nil {
		pool.Close()
		return nil, 0, err
	}
	return b, n, nil
}

func (b *pgBackend) close() error { b.pool.Close(); return nil }

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, while holding a
// session-level advisory lock so concurrent nodes apply each one once.
func (b *pgBackend) migrate(ctx context.Context) (applied int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return 0, b.wrap(ctx, fmt.Errorf("migrate: %w", err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return 0, b.wrap(ctx, fmt.Errorf("migrate: lock: %w", err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), b.cfg.OpTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); uerr != nil {
			// Closing the session releases the lock for sure.
			_ = conn.Conn().Close(uctx)
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, b.wrap(ctx, fmt.Errorf("migrate: %w", err))
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return 0, b.wrap(ctx, fmt.Errorf("migrate: %w", err))
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, b.wrap(ctx, fmt.Errorf("migrate: %w", err))
	}
	have := make(map[int]bool, len(done))
	for _, v := range done {
		have[int(v)] = true
	}
	for _, m := range ms {
		if have[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return applied, b.wrap(ctx, fmt.Errorf("migrate: %04d_%s: %w", m.version, m.name, err))
		}
		applied++
	}
	return applied, nil
}

// wrap classifies err: connection trouble becomes ErrUnavailable (temporary)
// and is counted in quaver_store_backend_unavailable_total, as a failed
// Redis call is; the caller's own cancellation stays as it is, SQL errors
// pass through.
func (b *pgBackend) wrap(ctx context.Context, err error) error {
	if err == nil || isOwnError(err) {
		return err
	}
	if ctx.Err() != nil {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, cannot connect now
			pe.Code == "53300": // too many connections
		default:
			return fmt.Errorf("store: postgres: %w", err)
		}
	}
	b.unavailable.Inc()
	return unavailable("postgres", err)
}

// op bounds one round trip by OpTimeout.
func (b *pgBackend) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.OpTimeout)
}

// --- snapshots ---

func (b *pgBackend) load(ctx context.Context, guildID string) (rawSnap, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	var r rawSnap
	var pos *int64
	var size int64
	// An oversized record is refused by the server, before it is transferred.
	limit := b.cfg.Limits.MaxSnapshotBytes
	err := b.pool.QueryRow(octx, `SELECT version, CASE WHEN octet_length(data) <= $2 THEN data END, octet_length(data), position_ns
		FROM snapshots WHERE guild_id = $1`, guildID, limit).Scan(&r.version, &r.data, &size, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, b.wrap(ctx, err)
	}
	if size > int64(limit) {
		return rawSnap{}, fmt.Errorf("%w: stored snapshot is %d bytes, limit %d", ErrTooLarge, size, limit)
	}
	if pos != nil {
		r.pos, r.hasPos = time.Duration(*pos), true
	}
	return r, nil
}

func (b *pgBackend) cas(ctx context.Context, guildID string, data []byte, expect int64) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	var tag pgconn.CommandTag
	var err error
	if expect == 0 {
		tag, err = b.pool.Exec(octx, `INSERT INTO snapshots (guild_id, version, data) VALUES ($1, 1, $2)
			ON CONFLICT (guild_id) DO NOTHING`, guildID, data)
	} else {
		tag, err = b.pool.Exec(octx, `UPDATE snapshots SET version = version + 1, data = $2, position_ns = NULL, updated_at = now()
			WHERE guild_id = $1 AND version = $3`, guildID, data, expect)
	}
	if err != nil {
		return b.wrap(ctx, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%w: expected version %d", ErrVersionConflict, expect)
	}
	return nil
}

// update implements lockingEngine: SELECT ... FOR UPDATE, apply, write, in
// one transaction.
func (b *pgBackend) update(ctx context.Context, guildID string, apply func(rawSnap, bool) ([]byte, error)) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	limit := b.cfg.Limits.MaxSnapshotBytes
	var applyErr error // the caller's own error, returned as it is
	err := pgx.BeginFunc(octx, b.pool, func(tx pgx.Tx) error {
		var r rawSnap
		var pos *int64
		var size int64
		err := tx.QueryRow(octx, `SELECT version, CASE WHEN octet_length(data) <= $2 THEN data END, octet_length(data), position_ns
			FROM snapshots WHERE guild_id = $1 FOR UPDATE`, guildID, limit).Scan(&r.version, &r.data, &size, &pos)
		found := err == nil
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case size > int64(limit):
			return fmt.Errorf("%w: stored snapshot is %d bytes, limit %d", ErrTooLarge, size, limit)
		case pos != nil:
			r.pos, r.hasPos = time.Duration(*pos), true
		}
		data, err := apply(r, found)
		if err != nil {
			applyErr = err
			return err
		}
		var tag pgconn.CommandTag
		if found {
			tag, err = tx.Exec(octx, `UPDATE snapshots SET version = version + 1, data = $2, position_ns = NULL, updated_at = now()
				WHERE guild_id = $1`, guildID, data)
		} else {
			tag, err = tx.Exec(octx, `INSERT INTO snapshots (guild_id, version, data) VALUES ($1, 1, $2)
				ON CONFLICT (guild_id) DO NOTHING`, guildID, data)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: created concurrently", ErrVersionConflict)
		}
		return nil
	})
	if applyErr != nil {
		return applyErr
	}
	return b.wrap(ctx, err)
}

func (b *pgBackend) checkpoint(ctx context.Context, guildID string, pos time.Duration) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	tag, err := b.pool.Exec(octx, "UPDATE snapshots SET position_ns = $2 WHERE guild_id = $1", guildID, int64(pos))
	if err != nil {
		return b.wrap(ctx, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (b *pgBackend) guilds(ctx context.Context) ([]string, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	rows, err := b.pool.Query(octx, "SELECT guild_id FROM snapshots ORDER BY guild_id")
	if err != nil {
		return nil, b.wrap(ctx, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, b.wrap(ctx, err)
}

func (b *pgBackend) remove(ctx context.Context, guildID string) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err := b.pool.Exec(octx, "DELETE FROM snapshots WHERE guild_id = $1", guildID)
	return b.wrap(ctx, err)
}

// --- settings ---

func (b *pgBackend) Get(ctx context.Context, guildID string) (GuildSettings, error) {
	if err := checkID("guild id", guildID); err != nil {
		return GuildSettings{}, guildErr("get settings", guildID, err)
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	s := GuildSettings{GuildID: guildID}
	err := b.pool.QueryRow(octx, `SELECT dj_role_id, default_volume, vote_skip_ratio, announce_channel_id, auto_leave_minutes
		FROM guild_settings WHERE guild_id = $1`, guildID).
		Scan(&s.DJRoleID, &s.DefaultVolume, &s.VoteSkipRatio, &s.AnnounceChannelID, &s.AutoLeaveMinutes)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultGuildSettings(guildID), nil
	}
	if err != nil {
		return GuildSettings{}, guildErr("get settings", guildID, b.wrap(ctx, err))
	}
	return s, nil
}

func (b *pgBackend) Put(ctx context.Context, s GuildSettings) error {
	if err := checkSettings(&s); err != nil {
		return guildErr("put settings", s.GuildID, err)
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err := b.pool.Exec(octx, `INSERT INTO guild_settings
		(guild_id, dj_role_id, default_volume, vote_skip_ratio, announce_channel_id, auto_leave_minutes)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (guild_id) DO UPDATE SET dj_role_id = EXCLUDED.dj_role_id, default_volume = EXCLUDED.default_volume,
			vote_skip_ratio = EXCLUDED.vote_skip_ratio, announce_channel_id = EXCLUDED.announce_channel_id,
			auto_leave_minutes = EXCLUDED.auto_leave_minutes, updated_at = now()`,
		s.GuildID, s.DJRoleID, s.DefaultVolume, s.VoteSkipRatio, s.AnnounceChannelID, s.AutoLeaveMinutes)
	return guildErr("put settings", s.GuildID, b.wrap(ctx, err))
}

// --- entitlements ---

func (b *pgBackend) Upsert(ctx context.Context, e Entitlement) error {
	if err := checkEntitlement(&e); err != nil {
		return err
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err := b.pool.Exec(octx, `INSERT INTO entitlements (id, sku_id, user_id, guild_id, starts_at, ends_at, deleted)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET sku_id = EXCLUDED.sku_id, user_id = EXCLUDED.user_id, guild_id = EXCLUDED.guild_id,
			starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, deleted = EXCLUDED.deleted`,
		e.ID, e.SKUID, e.UserID, e.GuildID, e.StartsAt, e.EndsAt, e.Deleted)
	return b.wrap(ctx, err)
}

const entitlementCols = "id, sku_id, user_id, guild_id, starts_at, ends_at, deleted"

func scanEntitlement(row pgx.CollectableRow) (Entitlement, error) {
	var e Entitlement
	err := row.Scan(&e.ID, &e.SKUID, &e.UserID, &e.GuildID, &e.StartsAt, &e.EndsAt, &e.Deleted)
	return e, err
}

func (b *pgBackend) getEntitlement(ctx context.Context, id string) (Entitlement, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	rows, err := b.pool.Query(octx, "SELECT "+entitlementCols+" FROM entitlements WHERE id = $1", id)
	if err != nil {
		return Entitlement{}, b.wrap(ctx, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEntitlement)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entitlement{}, ErrNotFound
	}
	return e, b.wrap(ctx, err)
}

func (b *pgBackend) Active(ctx context.Context, guildID, userID string, at time.Time) ([]Entitlement, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	rows, err := b.pool.Query(octx, "SELECT "+entitlementCols+` FROM entitlements
		WHERE NOT deleted AND ((guild_id = $1 AND $1 <> '') OR (user_id = $2 AND $2 <> ''))
		AND (starts_at IS NULL OR starts_at <= $3) AND (ends_at IS NULL OR ends_at > $3)
		ORDER BY id`, guildID, userID, at)
	if err != nil {
		return nil, b.wrap(ctx, err)
	}
	es, err := pgx.CollectRows(rows, scanEntitlement)
	return es, b.wrap(ctx, err)
}

// --- history ---

func (b *pgBackend) Add(ctx context.Context, e HistoryEntry) error {
	if err := checkHistory(&e); err != nil {
		return err
	}
	track, err := json.Marshal(e.Track)
	if err != nil {
		return guildErr("add history", e.GuildID, fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	err = pgx.BeginFunc(octx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(octx, "INSERT INTO play_history (guild_id, played_at, track) VALUES ($1, $2, $3)",
			e.GuildID, e.PlayedAt, track); err != nil {
			return err
		}
		_, err := tx.Exec(octx, `DELETE FROM play_history WHERE guild_id = $1 AND id <= (
			SELECT id FROM play_history WHERE guild_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
			e.GuildID, b.cfg.Limits.HistoryPerGuild)
		return err
	})
	return guildErr("add history", e.GuildID, b.wrap(ctx, err))
}

func (b *pgBackend) Recent(ctx context.Context, guildID string, limit int) ([]HistoryEntry, error) {
	if err := checkID("guild id", guildID); err != nil {
		return nil, err
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	rows, err := b.pool.Query(octx, `SELECT played_at, track FROM play_history WHERE guild_id = $1
		ORDER BY id DESC LIMIT $2`, guildID, max(limit, 0))
	if err != nil {
		return nil, guildErr("recent history", guildID, b.wrap(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HistoryEntry, error) {
		e := HistoryEntry{GuildID: guildID}
		var track []byte
		if err := row.Scan(&e.PlayedAt, &track); err != nil {
			return e, err
		}
		if err := json.Unmarshal(track, &e.Track); err != nil {
			return e, fmt.Errorf("%w: history track: %v", ErrCorrupt, err)
		}
		return e, nil
	})
	return out, guildErr("recent history", guildID, b.wrap(ctx, err))
}

// --- playlists ---

func (b *pgBackend) Save(ctx context.Context, p Playlist) error {
	if err := checkPlaylist(&p, b.cfg.Limits); err != nil {
		return err
	}
	tracks, err := json.Marshal(p.Tracks)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err = b.pool.Exec(octx, `INSERT INTO playlists (owner_id, name, tracks) VALUES ($1, $2, $3)
		ON CONFLICT (owner_id, name) DO UPDATE SET tracks = EXCLUDED.tracks, updated_at = now()`, p.OwnerID, p.Name, tracks)
	return b.wrap(ctx, err)
}

func (b *pgBackend) getPlaylist(ctx context.Context, ownerID, name string) (Playlist, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	p := Playlist{OwnerID: ownerID, Name: name}
	var tracks []byte
	err := b.pool.QueryRow(octx, "SELECT tracks FROM playlists WHERE owner_id = $1 AND name = $2", ownerID, name).Scan(&tracks)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, b.wrap(ctx, err)
	}
	if err := json.Unmarshal(tracks, &p.Tracks); err != nil {
		return p, fmt.Errorf("%w: playlist %q of %q: %v", ErrCorrupt, name, ownerID, err)
	}
	return p, nil
}

func (b *pgBackend) Names(ctx context.Context, ownerID string) ([]string, error) {
	octx, cancel := b.op(ctx)
	defer cancel()
	rows, err := b.pool.Query(octx, "SELECT name FROM playlists WHERE owner_id = $1 ORDER BY name", ownerID)
	if err != nil {
		return nil, b.wrap(ctx, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, b.wrap(ctx, err)
}

func (b *pgBackend) deletePlaylist(ctx context.Context, ownerID, name string) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err := b.pool.Exec(octx, "DELETE FROM playlists WHERE owner_id = $1 AND name = $2", ownerID, name)
	return b.wrap(ctx, err)
}

// --- leases: the database clock decides expiry ---

func (b *pgBackend) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(key, owner, ttl); err != nil {
		return Lease{}, err
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	l := Lease{Key: key, Owner: owner}
	err := b.pool.QueryRow(octx, `INSERT INTO leases (key, owner, token, expires_at)
		VALUES ($1, $2, 1, now() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET
			token = CASE WHEN leases.owner = EXCLUDED.owner AND leases.expires_at > now() THEN leases.token ELSE leases.token + 1 END,
			owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
		WHERE leases.expires_at <= now() OR leases.owner = EXCLUDED.owner
		RETURNING token, expires_at`, key, owner, ttl.Microseconds()).Scan(&l.Token, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, fmt.Errorf("%w: %q", ErrLeaseHeld, key)
	}
	return l, b.wrap(ctx, err)
}

func (b *pgBackend) Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(l.Key, l.Owner, ttl); err != nil {
		return Lease{}, err
	}
	octx, cancel := b.op(ctx)
	defer cancel()
	err := b.pool.QueryRow(octx, `UPDATE leases SET expires_at = now() + $4::bigint * interval '1 microsecond'
		WHERE key = $1 AND owner = $2 AND token = $3 AND expires_at > now() RETURNING expires_at`,
		l.Key, l.Owner, l.Token, ttl.Microseconds()).Scan(&l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, fmt.Errorf("%w: %q token %d", ErrLeaseLost, l.Key, l.Token)
	}
	if err != nil {
		return Lease{}, b.wrap(ctx, err)
	}
	return l, nil
}

func (b *pgBackend) Release(ctx context.Context, l Lease) error {
	octx, cancel := b.op(ctx)
	defer cancel()
	_, err := b.pool.Exec(octx, `UPDATE leases SET expires_at = '-infinity'
		WHERE key = $1 AND owner = $2 AND token = $3`, l.Key, l.Owner, l.Token)
	return b.wrap(ctx, err)
}

type pgEntitlements struct{ *pgBackend }

func (v pgEntitlements) Get(ctx context.Context, id string) (Entitlement, error) {
	return v.getEntitlement(ctx, id)
}

type pgPlaylists struct{ *pgBackend }

func (v pgPlaylists) Get(ctx context.Context, ownerID, name string) (Playlist, error) {
	return v.getPlaylist(ctx, ownerID, name)
}

func (v pgPlaylists) Delete(ctx context.Context, ownerID, name string) error {
	return v.deletePlaylist(ctx, ownerID, name)
}
