package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/pgtest"
	"github.com/quaverbot/quaver/store"
)

// postgresBehindProxy opens a store on a fresh PostgreSQL database reached
// through a tcpcut proxy. It returns the store, the proxy's Cut and the
// words that would give the connection away.
func postgresBehindProxy(t *testing.T) (*store.Store, func(), []string) {
	st, _, cut, leaks := postgresStore(t)
	return st, cut, leaks
}

// postgresStore is postgresBehindProxy that also returns a direct URL of
// the database, for the test to change it under the store.
func postgresStore(t *testing.T) (st *store.Store, direct string, cut func(), leaks []string) {
	direct, proxied, px := pgtest.DatabaseBehindProxy(t, "quaver_bot")
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err = store.Open(ctx, store.Config{PostgresURL: proxied, Path: filepath.Join(t.TempDir(), "unused.db"),
		OpTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, direct, px.Cut, []string{"postgres", "127.0.0.1", px.Addr(), db, "dial", "refused", "reset"}
}

// embeddedClosable opens an embedded store that the test closes under the
// bot: reads fail with an error that is not an outage.
func embeddedClosable(t *testing.T) (*store.Store, func(), []string) {
	path := filepath.Join(t.TempDir(), "quaver.db")
	st, err := store.Open(context.Background(), store.Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, func() { _ = st.Close() }, []string{path, "bolt", "not open"}
}

// TestSettingsWhenStoreUnreadable: when the saved settings cannot be read,
// /settings (to view or to change them) answers with an error that says so,
// and never shows the defaults as if they were the saved settings, nor the
// store's error with its connection details.
func TestSettingsWhenStoreUnreadable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		open  func(*testing.T) (st *store.Store, fail func(), leaks []string)
		wants string // what the answer must say, in lower case
	}{
		{name: "PostgreSQL unreachable", open: postgresBehindProxy, wants: "temporarily unavailable"},
		{name: "embedded store closed", open: embeddedClosable, wants: "could not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, fail, leaks := tc.open(t)
			e, g, ctx := startEnv(t, sandbox.Options{Store: st})
			owner, err := e.Discord.GuildOwner(g.ID) // /settings needs Manage Server
			if err != nil {
				t.Fatal(err)
			}
			settings := func(opts ...discordtest.Option) (*discordtest.Message, discordtest.Embed) {
				t.Helper()
				m, err := e.CommandAs(ctx, g, owner, "settings", opts...)
				if err != nil {
					t.Fatalf("/settings: no answer: %v", err)
				}
				if len(m.Embeds) != 1 {
					t.Fatalf("/settings: %d embeds", len(m.Embeds))
				}
				return m, m.Embeds[0]
			}
			if _, em := settings(discordtest.IntegerOption("default-volume", 50)); em.Color == errorColor {
				t.Fatalf("/settings before the failure: %s", em.Description)
			}
			fail()
			for _, c := range []struct {
				name string
				opts []discordtest.Option
			}{
				{name: "view"},
				{name: "change", opts: []discordtest.Option{discordtest.NumberOption("vote-skip-ratio", 0.75)}},
			} {
				m, em := settings(c.opts...)
				t.Logf("/settings (%s): %q", c.name, em.Description)
				if em.Color != errorColor || !m.Ephemeral() || !strings.Contains(strings.ToLower(em.Description), tc.wants) {
					t.Errorf("/settings (%s): %q %q (color %#x, ephemeral %v), want an error saying %q",
						c.name, em.Title, em.Description, em.Color, m.Ephemeral(), tc.wants)
				}
				if len(em.Fields) != 0 {
					t.Errorf("/settings (%s) shows settings it could not read: %+v", c.name, em.Fields)
				}
				for _, leak := range leaks {
					if strings.Contains(strings.ToLower(em.Description), strings.ToLower(leak)) {
						t.Errorf("/settings (%s) leaks %q: %q", c.name, leak, em.Description)
					}
				}
			}
		})
	}
}

// putVia reads settings from one store and saves them to another.
type putVia struct {
	store.Settings
	put store.Settings
}

func (p putVia) Put(ctx context.Context, s store.GuildSettings) error { return p.put.Put(ctx, s) }

// embeddedWritesFail opens an embedded store that reads settings but saves
// them to a store that is closed: saving fails with an error that is not
// an outage, and the raw error says "database not open".
func embeddedWritesFail(t *testing.T) (*store.Store, []string, string) {
	st, _, leaks := embeddedClosable(t)
	closed, closeIt, more := embeddedClosable(t)
	closeIt()
	st.Settings = putVia{Settings: st.Settings, put: closed.Settings}
	return st, append(leaks, more[0], "store:", "put settings"), "not open"
}

// embeddedOutOfRange opens a working embedded store; the test sends a
// value the store refuses (ErrInvalid), which Discord's option limits
// would normally stop.
func embeddedOutOfRange(t *testing.T) (*store.Store, []string, string) {
	st, _, leaks := embeddedClosable(t)
	return st, append(leaks, "store:", "put settings", "invalid record", "0-1000"), "invalid record"
}

// postgresDiskFull opens a PostgreSQL store whose settings table refuses
// writes as a primary with a full disk does (SQLSTATE 53100, not an outage).
func postgresDiskFull(t *testing.T) (*store.Store, []string, string) {
	st, direct, _, leaks := postgresStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	const file = `base/16384/16402`
	if _, err := conn.Exec(ctx, `CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION USING ERRCODE = 'disk_full', MESSAGE = 'could not extend file "`+file+`": No space left on device'; END $$;
		CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON guild_settings FOR EACH ROW EXECUTE FUNCTION disk_full()`); err != nil {
		t.Fatal(err)
	}
	return st, append(leaks, "store:", "put settings", "sqlstate", "53100", file, "no space"), "No space left on device"
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSettingsWhenSaveFails: when the settings are read but cannot be saved
// for a reason other than an outage, /settings says so in a plain sentence
// (what to do, nothing changed) without the store's error, which goes to the
// log at error level; the settings stay as they were.
func TestSettingsWhenSaveFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   func(*testing.T) (st *store.Store, leaks []string, raw string)
		volume int64    // the default volume asked for
		wants  []string // what the answer must say, in lower case
	}{
		{name: "embedded store refuses the write", open: embeddedWritesFail, volume: 55,
			wants: []string{"could not be saved", "operator"}},
		{name: "PostgreSQL disk full", open: postgresDiskFull, volume: 55,
			wants: []string{"could not be saved", "operator"}},
		{name: "value out of range", open: embeddedOutOfRange, volume: 5000,
			wants: []string{"outside the allowed ranges", "nothing was saved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, leaks, raw := tc.open(t)
			var logs syncBuffer
			e, g, ctx := startEnv(t, sandbox.Options{Store: st,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))})
			owner, err := e.Discord.GuildOwner(g.ID) // /settings needs Manage Server
			if err != nil {
				t.Fatal(err)
			}
			m, err := e.CommandAs(ctx, g, owner, "settings", discordtest.IntegerOption("default-volume", tc.volume))
			if err != nil || len(m.Embeds) != 1 {
				t.Fatalf("/settings default-volume %d: %v, %+v", tc.volume, err, m)
			}
			em := m.Embeds[0]
			t.Logf("/settings default-volume %d: %q", tc.volume, em.Description)
			desc := strings.ToLower(em.Description)
			if em.Color != errorColor || !m.Ephemeral() || len(em.Fields) != 0 {
				t.Errorf("/settings default-volume %d: %q %q (color %#x, ephemeral %v, %d fields), want an ephemeral error",
					tc.volume, em.Title, em.Description, em.Color, m.Ephemeral(), len(em.Fields))
			}
			for _, w := range tc.wants {
				if !strings.Contains(desc, w) {
					t.Errorf("/settings default-volume %d: %q, want it to say %q", tc.volume, em.Description, w)
				}
			}
			for _, leak := range leaks {
				if strings.Contains(desc, strings.ToLower(leak)) {
					t.Errorf("/settings leaks %q: %q", leak, em.Description)
				}
			}
			logged := false
			for line := range strings.Lines(logs.String()) {
				logged = logged || strings.Contains(line, "level=ERROR") && strings.Contains(line, raw) && strings.Contains(line, g.ID)
			}
			if !logged {
				t.Errorf("no error-level log line with the store's error %q and the guild; logs:\n%s", raw, logs.String())
			}
			view, err := e.CommandAs(ctx, g, owner, "settings")
			if err != nil || len(view.Embeds) != 1 {
				t.Fatalf("/settings: %v, %+v", err, view)
			}
			for _, f := range view.Embeds[0].Fields {
				if f.Name == "Default volume" && f.Value == fmt.Sprintf("%d %%", tc.volume) {
					t.Errorf("/settings shows the default volume that could not be saved: %+v", view.Embeds[0].Fields)
				}
			}
		})
	}
}
