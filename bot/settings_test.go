package bot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/store"
)

// cutProxy forwards TCP connections to a server until Cut, which resets
// every connection and stops listening: the server becomes unreachable.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Cut)
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_, _ = c.Close(), up.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		go p.forward(c, up)
		go p.forward(up, c)
		p.mu.Unlock()
	}
}

func (p *cutProxy) forward(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
}

// Cut resets every connection, refuses new ones and waits for the proxy's goroutines.
func (p *cutProxy) Cut() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.cut = true
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, as from a server that went away
		}
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// postgresBehindProxy opens a store on a fresh PostgreSQL database reached
// through a cutProxy. It returns the store, the proxy's Cut and the words
// that would give the connection away.
func postgresBehindProxy(t *testing.T) (*store.Store, func(), []string) {
	admin := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := fmt.Sprintf("quaver_bot_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		_ = conn.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		_ = conn.Close(ctx)
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	px := newCutProxy(t, u.Host)
	u.Host, u.Path = px.ln.Addr().String(), "/"+db
	st, err := store.Open(ctx, store.Config{PostgresURL: u.String(), Path: filepath.Join(t.TempDir(), "unused.db"),
		OpTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, px.Cut, []string{"postgres", "127.0.0.1", px.ln.Addr().String(), db, "dial", "refused", "reset"}
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
