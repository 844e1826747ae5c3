package voicetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/dave"
)

// TestDaveDiscordJS: @discordjs/voice with its own DAVE support (davey)
// negotiates DAVE with the server's gateway role, welcomes the listener into
// its group, and the listener decrypts the audio it plays back to the
// source; both show the same voice privacy code.
func TestDaveDiscordJS(t *testing.T) {
	node, dir := testenv.NodeModules(t)
	srv, role, _ := daveServer(t, 999)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, pkts, rd := opusSource(t)
	srv.AllowSession("4242", "9001", "djs-session", "djs-token")

	tmp := t.TempDir()
	var file bytes.Buffer
	for _, p := range pkts {
		_ = binary.Write(&file, binary.BigEndian, uint16(len(p)))
		file.Write(p)
	}
	pf, ca := filepath.Join(tmp, "packets.bin"), filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(pf, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, srv.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(map[string]string{
		"guildId": "4242", "channelId": "555", "userId": "9001", "sessionId": "djs-session",
		"token": "djs-token", "endpoint": srv.Endpoint(), "packets": pf,
	})
	cmd := exec.CommandContext(ctx, node, filepath.Join(testenv.RepoRoot(), "voice", "dave", "js", "djs_dave_play.js"))
	cmd.Env = append(os.Environ(),
		"QUAVER_NODE_MODULES="+filepath.Join(dir, "node_modules"),
		"QUAVER_VOICE_ARGS="+string(args),
		"NODE_EXTRA_CA_CERTS="+ca,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("discord.js client failed: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		PrivacyCode string `json:"privacyCode"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	var ss *Session
	for _, s := range srv.Sessions() {
		if s.UserID == "9001" {
			ss = s
		}
	}
	if ss == nil || ss.DAVEVersion() != 1 {
		t.Fatal("the discord.js session did not negotiate DAVE")
	}
	if err := ss.Recorder().WaitPackets(ctx, len(pkts)); err != nil {
		t.Fatalf("recorded %d packets: %v", ss.Recorder().Received(), err)
	}
	if code := dave.DisplayableCode(role.Listener().EpochAuthenticator(), 30, 5); code != res.PrivacyCode {
		t.Fatalf("voice privacy code: discord.js %q, listener %q", res.PrivacyCode, code)
	}
	heard(t, role.Listener(), 9001, ss.Recorder().Packets(), len(pkts), src, rd)
}
