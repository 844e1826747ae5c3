package voicetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/rtp"
	"github.com/quaverbot/quaver/voice/transport"
)

// TestDiscordJSClient connects @discordjs/voice (a client written by others)
// to the local server: it must complete the v8 handshake, and every Opus
// packet it plays must be decrypted and recorded intact, in order, with
// continuous RTP sequence numbers and timestamps.
func TestDiscordJSClient(t *testing.T) {
	node, dir := testenv.NodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newServer(t, Config{})
	s.AllowSession("4242", "9001", "djs-session", "djs-token")

	// Distinct packets of varying length, as a real encoder would produce.
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	var file bytes.Buffer
	for i := range 150 {
		p := make([]byte, 20+rng.IntN(180))
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		binary.BigEndian.PutUint32(p, uint32(i))
		want = append(want, p)
		_ = binary.Write(&file, binary.BigEndian, uint16(len(p)))
		file.Write(p)
	}
	tmp := t.TempDir()
	pkts := filepath.Join(tmp, "packets.bin")
	ca := filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(pkts, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, s.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(map[string]string{
		"guildId": "4242", "channelId": "777", "userId": "9001", "sessionId": "djs-session",
		"token": "djs-token", "endpoint": s.Endpoint(), "packets": pkts,
	})
	cmd := exec.CommandContext(ctx, node, filepath.Join(testenv.RepoRoot(), "voice", "js", "play.js"))
	cmd.Env = append(os.Environ(),
		"QUAVER_NODE_MODULES="+filepath.Join(dir, "node_modules"),
		"QUAVER_VOICE_ARGS="+string(args),
		"NODE_EXTRA_CA_CERTS="+ca,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node client failed: %v\n%s", err, out)
	}
	sessions := s.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions after the client left, want 1", len(sessions))
	}
	ss := sessions[0]
	if ss.Mode() != transport.AES256GCM || ss.MaxDAVE < 0 {
		t.Fatalf("mode %q", ss.Mode())
	}
	t.Logf("@discordjs/voice announced max_dave_protocol_version %d; server answered %d", ss.MaxDAVE, ss.DAVEVersion())
	if err := ss.Recorder().WaitPackets(ctx, len(want)); err != nil {
		t.Fatalf("recorded %d packets: %v", ss.Recorder().Received(), err)
	}
	got := ss.Recorder().Packets()
	var audio []Packet
	for _, p := range got {
		if !bytes.Equal(p.Opus, rtp.SilenceFrame[:]) {
			audio = append(audio, p)
		}
	}
	if len(audio) != len(want) {
		t.Fatalf("recorded %d audio packets, want %d", len(audio), len(want))
	}
	for i := range want {
		if !bytes.Equal(audio[i].Opus, want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 || got[i].Timestamp != got[i-1].Timestamp+960 {
			t.Fatalf("packet %d: seq %d→%d ts %d→%d", i, got[i-1].Seq, got[i].Seq, got[i-1].Timestamp, got[i].Timestamp)
		}
	}
	st := ss.Recorder().Stats()
	// @discordjs/voice sends Speaking and its first packet back to back on
	// two sockets, so the first packet may be handled before Speaking.
	if st.Lost != 0 || st.DecryptFailures != 0 || st.BeforeSpeaking > 1 {
		t.Fatalf("stats %+v", st)
	}
}
