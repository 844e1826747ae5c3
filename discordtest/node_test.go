package discordtest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quaverbot/quaver/internal/testenv"
)

// TestDiscordJSInterop runs a bot written with @discordjs/ws and
// @discordjs/rest against the server: it registers /ping, identifies,
// receives READY and GUILD_CREATE, then answers the interaction this test
// triggers through REST (callback, ephemeral follow-up, and a request to an
// unknown channel whose error code it reports).
func TestDiscordJSInterop(t *testing.T) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "zlib-stream"
		}
		t.Run(name, func(t *testing.T) { runDiscordJS(t, compress) })
	}
}

// nodeBot runs one of the js/ scripts against srv and returns a function
// waiting for its next milestone of a kind, and one waiting for its exit.
func nodeBot(t *testing.T, ctx context.Context, srv *Server, script string, extraEnv ...string) (next func(string) map[string]any, wait func()) {
	t.Helper()
	node, dir := testenv.NodeModules(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(testenv.RepoRoot(), "discordtest", "js", script))
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+filepath.Join(dir, "node_modules"),
		"NODE_EXTRA_CA_CERTS="+caFile,
		"DISCORDTEST_API="+srv.APIURL(),
		"DISCORDTEST_TOKEN="+srv.Token(),
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var waitErr error
	reap := func() error {
		once.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	// A failed test still reaps the process (killed by ctx's end).
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = reap()
	})
	events := make(chan map[string]any, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case events <- m:
				case <-ctx.Done():
				}
			}
		}
	}()
	next = func(want string) map[string]any {
		t.Helper()
		for {
			select {
			case m, ok := <-events:
				if !ok {
					t.Fatalf("node exited before %q; stderr:\n%s", want, stderr.String())
				}
				if testing.Verbose() {
					t.Logf("%s node: %v", time.Now().Format("15:04:05.000"), m)
				}
				if m["event"] == "error" {
					t.Fatalf("node error: %v", m["message"])
				}
				if m["event"] == want {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %q; stderr:\n%s", want, stderr.String())
			}
		}
	}
	wait = func() {
		t.Helper()
		if err := reap(); err != nil {
			t.Fatalf("node: %v\n%s", err, stderr.String())
		}
		for range events {
		}
	}
	return next, wait
}

func runDiscordJS(t *testing.T, compress bool) {
	w := newWorld(t, Config{})
	srv := w.srv
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var env []string
	if compress {
		env = append(env, "DISCORDTEST_COMPRESS=1")
	}
	next, wait := nodeBot(t, ctx, srv, "interop.cjs", env...)
	next("registered")
	if cmds := srv.Commands(""); len(cmds) != 1 || cmds[0].Name != "ping" {
		t.Fatalf("commands %+v", cmds)
	}
	ready := next("ready")
	if ready["user"] != srv.BotID() || ready["guilds"] != float64(1) {
		t.Fatalf("ready %v", ready)
	}
	if g := next("guild"); g["id"] != w.guild || g["channels"] != float64(4) {
		t.Fatalf("guild %v", g)
	}
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.bob, "ping", StringOption("word", "héllo ✓"))
	if err != nil {
		t.Fatal(err)
	}
	if got := next("interaction"); got["id"] != inv.ID || got["user"] != w.bob || got["word"] != "héllo ✓" {
		t.Fatalf("interaction %v", got)
	}
	resp, err := inv.WaitResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "pong héllo ✓" || len(resp.Embeds) != 1 || resp.Embeds[0].Title != "from discord.js" || resp.Embeds[0].Description != "bob" {
		t.Fatalf("response %+v", resp)
	}
	fu, err := inv.WaitFollowup(ctx, 0)
	if err != nil || fu.Content != "follow-up from discord.js" || !fu.Ephemeral() {
		t.Fatalf("follow-up %+v %v", fu, err)
	}
	if a := next("answered"); a["unknownChannelCode"] != float64(10003) {
		t.Fatalf("discord.js saw error code %v for an unknown channel", a["unknownChannelCode"])
	}
	wait()
}

// TestDiscordJSClient runs a bot on the full discord.js Client: its caches
// fill from READY/GUILD_CREATE, it registers a command, defers and edits
// its reply with a button, and updates the message on the click.
func TestDiscordJSClient(t *testing.T) {
	w := newWorld(t, Config{})
	srv := w.srv
	if _, err := srv.JoinVoice(w.guild, w.alice, w.vc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	next, wait := nodeBot(t, ctx, srv, "client.cjs", "DISCORDTEST_DEBUG="+os.Getenv("DISCORDTEST_DEBUG"))
	ready := next("ready")
	if ready["user"] != srv.BotID() || ready["app"] != srv.ApplicationID() || ready["guilds"] != float64(1) ||
		ready["channels"] != float64(4) || ready["voiceChannels"] != float64(3) || ready["voiceStates"] != float64(1) || ready["members"] != float64(5) {
		t.Fatalf("discord.js ready: %v", ready)
	}
	if r := next("registered"); r["count"] != float64(1) {
		t.Fatalf("registered %v", r)
	}
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "echo", StringOption("text", "**bold** <@everyone>"))
	if err != nil {
		t.Fatal(err)
	}
	if a := next("answered"); a["dj"] != true || a["channel"] != w.text {
		t.Fatalf("answered %v", a)
	}
	resp, err := inv.WaitResponse(ctx)
	if err != nil || resp.Content != "echo: **bold** <@everyone>" || len(resp.CustomIDs()) != 1 || resp.CustomIDs()[0] != "again" {
		t.Fatalf("response %+v %v", resp, err)
	}
	click, err := srv.ClickButton(ctx, resp.ID, "again", w.bob)
	if err != nil {
		t.Fatal(err)
	}
	next("clicked")
	upd, err := click.WaitResponse(ctx)
	if err != nil || upd.Content != "clicked again by bob" || len(upd.Components) != 0 {
		t.Fatalf("updated %+v %v", upd, err)
	}
	wait()
}
