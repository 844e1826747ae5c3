package discordtest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

func runDiscordJS(t *testing.T, compress bool) {
	node, dir := testenv.NodeModules(t)
	w := newWorld(t, Config{})
	srv := w.srv
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(testenv.RepoRoot(), "discordtest", "js", "interop.cjs"))
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+filepath.Join(dir, "node_modules"),
		"NODE_EXTRA_CA_CERTS="+caFile,
		"DISCORDTEST_API="+srv.APIURL(),
		"DISCORDTEST_TOKEN="+srv.Token(),
	)
	if compress {
		cmd.Env = append(cmd.Env, "DISCORDTEST_COMPRESS=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	events := make(chan map[string]any, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				events <- m
			}
		}
	}()
	next := func(want string) map[string]any {
		t.Helper()
		for {
			select {
			case m, ok := <-events:
				if !ok {
					t.Fatalf("node exited before %q; stderr:\n%s", want, stderr.String())
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
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	for range events {
	}
}
