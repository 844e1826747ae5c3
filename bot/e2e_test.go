package bot_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/bot"
	"github.com/quaverbot/quaver/bot/sandbox"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/store"
	"github.com/quaverbot/quaver/voice/pacer"
	"github.com/quaverbot/quaver/voice/voicetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle keep-alive connections' goroutines briefly after Close.
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

const errorColor = 0xED4245

// testPacer runs the 20 ms grid at 10 ms so that playback takes half the
// wall time; nothing in the chain depends on real time.
func testPacer(t *testing.T) *pacer.Pacer {
	t.Helper()
	p, err := pacer.New(pacer.Config{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newEnv(t *testing.T, mutate func(*bot.Config)) (*sandbox.Env, sandbox.Guild, context.Context) {
	t.Helper()
	return startEnv(t, sandbox.Options{Bot: mutate})
}

// startEnv starts a sandbox with o (and the test pacer) and puts the
// first guild's listener in its voice channel.
func startEnv(t *testing.T, o sandbox.Options) (*sandbox.Env, sandbox.Guild, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if o.Pacer == nil {
		o.Pacer = testPacer(t)
	}
	e, err := sandbox.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	g := e.Guilds[0]
	if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
		t.Fatal(err)
	}
	return e, g, ctx
}

// waitBotSession waits for a voice session of the bot, other than those in
// old, that has received more than n packets (the voice server has no
// event for a new session: its list is polled).
func waitBotSession(t *testing.T, ctx context.Context, e *sandbox.Env, n uint64, old ...*voicetest.Session) *voicetest.Session {
	t.Helper()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		for _, s := range e.Voice.Sessions() {
			if s.UserID == e.Bot.BotID() && !slices.Contains(old, s) && s.Recorder().Received() > n {
				return s
			}
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("no new voice session of the bot with audio (%d sessions)", len(e.Voice.Sessions()))
		}
	}
}

func writeMedia(t *testing.T, e *sandbox.Env, name string, s audiotest.Signal) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.MediaDir, name), audiotest.WAV(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file:" + name
}

// command runs a slash command as the listener and fails on an error reply.
func command(t *testing.T, ctx context.Context, e *sandbox.Env, g sandbox.Guild, name string, opts ...discordtest.Option) *discordtest.Message {
	t.Helper()
	m, err := e.Command(ctx, g, name, opts...)
	if err != nil {
		t.Fatalf("/%s: %v", name, err)
	}
	for _, em := range m.Embeds {
		if em.Color == errorColor {
			t.Fatalf("/%s answered with an error: %s", name, em.Description)
		}
	}
	return m
}

// playing starts query and returns the bot's voice recorder.
func playing(t *testing.T, ctx context.Context, e *sandbox.Env, g sandbox.Guild, query string) *voicetest.Recorder {
	t.Helper()
	command(t, ctx, e, g, "play", discordtest.StringOption("query", query))
	sess, err := e.BotSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sess.Recorder()
}

// decodeHeard writes packets to Ogg and decodes them with ffmpeg at 48 kHz mono.
func decodeHeard(t *testing.T, pkts []voicetest.Packet) []float32 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "heard.ogg")
	if err := sandbox.WriteHeard(path, pkts); err != nil {
		t.Fatal(err)
	}
	return audiotest.Decode(t, path, 48000, 1).Samples
}

func decodeFile(t *testing.T, path string) []float32 {
	t.Helper()
	return audiotest.Decode(t, path, 48000, 1).Samples
}

func TestPlayHeardMatchesSource(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	e, g, ctx := newEnv(t, nil)
	src := audiotest.Music(44100, 2, 4)
	q := writeMedia(t, e, "music.wav", src)
	rec := playing(t, ctx, e, g, q)
	if st, _ := e.Bot.Player(g.ID); st == nil {
		t.Fatal("no player after /play")
	}
	if _, err := e.Discord.WaitVoice(ctx, g.ID, e.Bot.BotID(), g.VoiceID); err != nil {
		t.Fatalf("bot not in the listener's channel: %v", err)
	}
	if _, err := e.WaitEvent(ctx, g.ID, player.EventQueueEnd); err != nil {
		t.Fatal(err)
	}
	heard := decodeHeard(t, rec.Packets())
	want := decodeFile(t, filepath.Join(e.MediaDir, "music.wav"))
	ncc, lag := audiotest.NCC(want, heard, 48000)
	t.Logf("NCC %.4f at lag %d samples; %d packets, stats %+v", ncc, lag, rec.Received(), rec.Stats())
	if ncc < 0.95 {
		t.Errorf("heard audio does not match the source: NCC %.3f < 0.95", ncc)
	}
	if got := float64(len(heard)) / 48000; got < 3.8 || got > 4.3 {
		t.Errorf("heard %.2f s of audio, want about 4 s", got)
	}
	// The announcement went to the channel /play was used in.
	if _, err := e.Discord.WaitMessage(ctx, g.TextID, func(m *discordtest.Message) bool {
		return len(m.Embeds) > 0 && m.Embeds[0].Title == "Now playing"
	}); err != nil {
		t.Errorf("no now-playing announcement: %v", err)
	}
}

func TestPauseResume(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	rec := playing(t, ctx, e, g, writeMedia(t, e, "tone.wav", audiotest.Tone(48000, 2, 8, 440, 0.5)))
	sess, _ := e.BotSession(ctx)
	if err := rec.WaitPackets(ctx, 50); err != nil {
		t.Fatal(err)
	}
	command(t, ctx, e, g, "pause")
	if err := sess.WaitSpeaking(ctx, 0); err != nil {
		t.Fatalf("speaking not cleared after pause: %v", err)
	}
	// Speaking (WebSocket) can overtake the last silence packets (UDP): let a
	// command round trip pass before looking.
	command(t, ctx, e, g, "nowplaying")
	paused := rec.Packets()
	// The last five packets before going quiet are Opus silence frames.
	silence := 0
	for _, p := range paused[max(0, len(paused)-5):] {
		if len(p.Opus) == 3 && p.Opus[0] == 0xF8 && p.Opus[1] == 0xFF && p.Opus[2] == 0xFE {
			silence++
		}
	}
	if silence != 5 {
		t.Errorf("%d of the last 5 packets before the pause are silence frames, want 5", silence)
	}
	// Another round trip through the gateway: no packet may arrive meanwhile.
	command(t, ctx, e, g, "queue")
	if n := rec.Received(); n != uint64(len(paused)) {
		t.Errorf("%d packets arrived while paused", n-uint64(len(paused)))
	}
	command(t, ctx, e, g, "resume")
	if err := rec.WaitPackets(ctx, len(paused)+25); err != nil {
		t.Fatalf("no audio after resume: %v", err)
	}
}

func TestSkipAndLoop(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	a := writeMedia(t, e, "a.wav", audiotest.Tone(48000, 2, 30, 440, 0.5))
	b := writeMedia(t, e, "b.wav", audiotest.Tone(48000, 2, 1, 660, 0.5))
	rec := playing(t, ctx, e, g, a)
	m := command(t, ctx, e, g, "play", discordtest.StringOption("query", b))
	if !strings.Contains(m.Embeds[0].Title, "position 1") {
		t.Errorf("second /play: %q, want it queued at position 1", m.Embeds[0].Title)
	}
	if err := rec.WaitPackets(ctx, 10); err != nil {
		t.Fatal(err)
	}
	command(t, ctx, e, g, "loop", discordtest.StringOption("mode", "track"))
	command(t, ctx, e, g, "skip")
	ev, err := e.WaitEvent(ctx, g.ID, player.EventTrackStart)
	for err == nil && ev.Track.Title != "b" {
		ev, err = e.WaitEvent(ctx, g.ID, player.EventTrackStart)
	}
	if err != nil {
		t.Fatalf("skip did not start b: %v", err)
	}
	// b is 1 s long and looped: 2.5 s of audio arrive without the queue ending.
	start := rec.Received()
	if err := rec.WaitPackets(ctx, int(start)+125); err != nil {
		t.Fatalf("looped track stopped: %v", err)
	}
	if p, _ := e.Bot.Player(g.ID); p.Status().Current == nil || p.Status().Current.Title != "b" {
		t.Errorf("after 2.5 s of a looped 1 s track, current is %+v", p.Status().Current)
	}
	// Loop queue: b, then the re-queued b again; off ends.
	command(t, ctx, e, g, "loop", discordtest.StringOption("mode", "queue"))
	start = rec.Received()
	if err := rec.WaitPackets(ctx, int(start)+125); err != nil {
		t.Fatalf("looped queue stopped: %v", err)
	}
	command(t, ctx, e, g, "loop", discordtest.StringOption("mode", "off"))
	if _, err := e.WaitEvent(ctx, g.ID, player.EventQueueEnd); err != nil {
		t.Fatalf("queue did not end with loop off: %v", err)
	}
}

func TestVolumeAudible(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	e, g, ctx := newEnv(t, nil)
	rec := playing(t, ctx, e, g, writeMedia(t, e, "tone.wav", audiotest.Tone(48000, 2, 6, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 60); err != nil {
		t.Fatal(err)
	}
	command(t, ctx, e, g, "volume", discordtest.IntegerOption("percent", 25))
	k := int(rec.Received())
	if err := rec.WaitPackets(ctx, k+80); err != nil {
		t.Fatal(err)
	}
	heard := decodeHeard(t, rec.Packets())
	before := audiotest.RMS(heard[(k-50)*960 : (k-5)*960])
	after := audiotest.RMS(heard[(k+30)*960 : (k+75)*960])
	ratio := after / before
	t.Logf("RMS before %.4f after %.4f: ratio %.3f (%.1f dB)", before, after, ratio, 20*math.Log10(ratio))
	if ratio < 0.18 || ratio > 0.35 {
		t.Errorf("volume 25 %% changed the level by a factor %.3f, want about 0.25", ratio)
	}
}

func TestSeekLands(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	e, g, ctx := newEnv(t, nil)
	src := audiotest.Music(48000, 2, 10)
	q := writeMedia(t, e, "music.wav", src)
	rec := playing(t, ctx, e, g, q)
	if err := rec.WaitPackets(ctx, 30); err != nil {
		t.Fatal(err)
	}
	k := int(rec.Received())
	command(t, ctx, e, g, "seek", discordtest.StringOption("position", "0:06"))
	if err := rec.WaitPackets(ctx, k+120); err != nil {
		t.Fatal(err)
	}
	heard := decodeHeard(t, rec.Packets())
	want := decodeFile(t, filepath.Join(e.MediaDir, "music.wav"))
	// An excerpt well after the command: where in the source is it? Frames
	// after the seek landed play from 6 s on; the excerpt starts 40 frames
	// after the command was sent, of which up to 5 may have been in flight
	// before the seek took effect. Search ±0.3 s around the expected spot.
	from := (k + 40) * 960
	excerpt := heard[from : from+24000]
	est := int((6.0 + float64(from/960-k)*0.02) * 48000)
	const search = 14400
	if est+len(excerpt)+search > len(want) {
		t.Fatalf("source too short for the check")
	}
	ncc, lag := audiotest.NCC(want[est:est+len(excerpt)+search], excerpt, search)
	t0 := float64(est-lag) / 48000 // source time of the excerpt's start
	landed := t0 - float64(from/960-k)*0.02
	t.Logf("excerpt at source %.3f s (NCC %.3f): the seek landed at %.3f s", t0, ncc, landed)
	if ncc < 0.9 {
		t.Fatalf("post-seek audio not found in the source (NCC %.3f)", ncc)
	}
	if landed < 6.0-0.1 || landed > 6.0+0.1+5*0.02 {
		t.Errorf("seek to 6 s landed at %.3f s", landed)
	}
}

func TestAutoLeaveAfterQueueEnd(t *testing.T) {
	e, g, ctx := newEnv(t, func(c *bot.Config) { c.AutoLeave = 500 * time.Millisecond })
	playing(t, ctx, e, g, writeMedia(t, e, "short.wav", audiotest.Tone(48000, 2, 0.5, 440, 0.5)))
	if _, err := e.WaitEvent(ctx, g.ID, player.EventQueueEnd); err != nil {
		t.Fatal(err)
	}
	ev, err := e.WaitEvent(ctx, g.ID, player.EventAutoLeave)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Reason != "idle" {
		t.Errorf("auto-leave reason %q, want idle", ev.Reason)
	}
	if _, err := e.Discord.WaitVoice(ctx, g.ID, e.Bot.BotID(), ""); err != nil {
		t.Errorf("bot still in voice after auto-leave: %v", err)
	}
	if _, err := e.Discord.WaitMessage(ctx, g.TextID, func(m *discordtest.Message) bool {
		return len(m.Embeds) > 0 && strings.Contains(m.Embeds[0].Description, "nothing was playing")
	}); err != nil {
		t.Errorf("no auto-leave announcement: %v", err)
	}
}

func TestKickAndVoiceServerMove(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	rec := playing(t, ctx, e, g, writeMedia(t, e, "long.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatal(err)
	}
	old, _ := e.BotSession(ctx)
	// Region change: a fresh token in VOICE_SERVER_UPDATE; audio continues on a new session.
	if err := e.Discord.ChangeVoiceServer(g.ID); err != nil {
		t.Fatal(err)
	}
	waitBotSession(t, ctx, e, 20, old)
	// Kick: a moderator disconnects the bot.
	if err := e.Discord.DisconnectUser(g.ID, e.Bot.BotID()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitEvent(ctx, g.ID, player.EventDisconnected); err != nil {
		t.Fatalf("kick not noticed: %v", err)
	}
	p, _ := e.Bot.Player(g.ID)
	if ch := p.Status().VoiceChannelID; ch != "" {
		t.Errorf("player still thinks it is in %s after the kick", ch)
	}
	// The bot comes back with /play.
	rec = playing(t, ctx, e, g, "file:long.wav")
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatalf("no audio after rejoining: %v", err)
	}
}

func TestBadInputGetsClearReply(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!doctype html><html><body>hello</body></html>")
		case "/bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(make([]byte, 4096))
		default:
			http.NotFound(w, r)
		}
	}))
	defer web.Close()
	if err := os.WriteFile(filepath.Join(e.MediaDir, "notes.txt"), []byte(strings.Repeat("not audio\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/gone.mp3"
	dead.Close()
	for _, tc := range []struct {
		name, query string
	}{
		{"unknown host", deadURL},
		{"404", web.URL + "/missing.mp3"},
		{"html page", web.URL + "/page"},
		{"binary junk", web.URL + "/bin"},
		{"non-audio file", "file:notes.txt"},
		{"path escape", "file:../../etc/passwd"},
		{"10000 characters", strings.Repeat("a", 10000)},
		{"bad scheme", "ftp://example.com/a.mp3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := e.Command(ctx, g, "play", discordtest.StringOption("query", tc.query))
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if len(m.Embeds) == 0 || m.Embeds[0].Color != errorColor || len(m.Embeds[0].Description) < 15 {
				t.Fatalf("reply is not a clear error: %+v", m.Embeds)
			}
			t.Logf("reply: %s", m.Embeds[0].Description)
		})
	}
	// Nothing crashed: a good track still plays.
	rec := playing(t, ctx, e, g, writeMedia(t, e, "ok.wav", audiotest.Tone(48000, 2, 1, 440, 0.5)))
	if err := rec.WaitPackets(ctx, 20); err != nil {
		t.Fatal(err)
	}
}

func TestRulesAndPermissions(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	// A user outside voice.
	outsider := e.Discord.AddUser(discordtest.User{Username: "outsider"})
	if err := e.Discord.AddMember(g.ID, outsider); err != nil {
		t.Fatal(err)
	}
	m, err := e.CommandAs(ctx, g, outsider, "play", discordtest.StringOption("query", "file:x.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Ephemeral() || !strings.Contains(m.Embeds[0].Description, "Join a voice channel") {
		t.Errorf("outsider got %+v (ephemeral %v)", m.Embeds, m.Ephemeral())
	}
	// A bot without Speak in the channel.
	if err := e.Discord.SetOverwrites(g.VoiceID, discordtest.Overwrite{ID: e.Bot.BotID(),
		Type: discordtest.OverwriteMember, Deny: discordtest.PermSpeak}); err != nil {
		t.Fatal(err)
	}
	q := writeMedia(t, e, "t.wav", audiotest.Tone(48000, 2, 1, 440, 0.5))
	// CHANNEL_UPDATE reaches the bot asynchronously; the reply must say Speak once it has.
	var desc string
	for !strings.Contains(desc, "Speak") {
		m, err = e.Command(ctx, g, "play", discordtest.StringOption("query", q))
		if err != nil {
			t.Fatal(err)
		}
		desc = m.Embeds[0].Description
		if ctx.Err() != nil {
			t.Fatalf("no Speak permission reply; last %q", desc)
		}
	}
	if !m.Ephemeral() {
		t.Errorf("permission error is public")
	}
	// Titles with markdown and mentions are escaped.
	if err := e.Discord.SetOverwrites(g.VoiceID); err != nil {
		t.Fatal(err)
	}
	evil := writeMedia(t, e, "**bold** @everyone <@1>.wav", audiotest.Tone(48000, 2, 1, 440, 0.5))
	for {
		m, err = e.Command(ctx, g, "play", discordtest.StringOption("query", evil))
		if err != nil {
			t.Fatal(err)
		}
		if m.Embeds[0].Color != errorColor || ctx.Err() != nil {
			break
		}
	}
	d := m.Embeds[0].Description
	if strings.Contains(d, "**bold**") || strings.Contains(d, "@everyone") || strings.Contains(d, "<@1>") {
		t.Errorf("title not escaped: %q", d)
	}
	// DJ role: a member without it cannot skip.
	role, err := e.Discord.AddRole(g.ID, discordtest.Role{Name: "DJ"})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := e.Discord.GuildOwner(g.ID)
	if _, err := e.Discord.JoinVoice(g.ID, owner, g.VoiceID); err != nil {
		t.Fatal(err)
	}
	if m, err := e.CommandAs(ctx, g, owner, "settings", discordtest.RoleOption("dj-role", role)); err != nil || m.Embeds[0].Color == errorColor {
		t.Fatalf("settings: %v %+v", err, m)
	}
	m, err = e.Command(ctx, g, "skip")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Ephemeral() || !strings.Contains(m.Embeds[0].Description, "DJ role") {
		t.Errorf("skip without DJ role: %+v", m.Embeds)
	}
}

// TestResumesSavedPlayer is the restart path after a crash (kill -9): the
// store holds the last snapshot, and a new bot process rejoins the voice
// channel and resumes the track near the saved position.
func TestResumesSavedPlayer(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := audiotest.Music(48000, 2, 8)
	e, err := sandbox.Start(ctx, sandbox.Options{Pacer: testPacer(t), Prepare: func(e *sandbox.Env) error {
		g := e.Guilds[0]
		if err := os.WriteFile(filepath.Join(e.MediaDir, "saved.wav"), audiotest.WAV(src), 0o644); err != nil {
			return err
		}
		if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, g.VoiceID); err != nil {
			return err
		}
		// What a player that was killed 4 s into the track left behind.
		snap := store.PlayerSnapshot{GuildID: g.ID, Current: &store.Track{ID: "file:saved.wav", URL: "file:saved.wav",
			Title: "saved", Duration: 8 * time.Second}, Position: 4 * time.Second, Loop: store.LoopOff, Volume: 100,
			VoiceChannelID: g.VoiceID, TextChannelID: g.TextID}
		_, err := e.Store.Snapshots.Put(ctx, snap, 0)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	g := e.Guilds[0]
	if _, err := e.Discord.WaitVoice(ctx, g.ID, e.Bot.BotID(), g.VoiceID); err != nil {
		t.Fatalf("bot did not rejoin its saved channel: %v", err)
	}
	sess, err := e.BotSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := sess.Recorder()
	if _, err := e.WaitEvent(ctx, g.ID, player.EventQueueEnd); err != nil {
		t.Fatalf("resumed track did not play to its end: %v", err)
	}
	heard := decodeHeard(t, rec.Packets())
	got := float64(len(heard)) / 48000
	t.Logf("resumed: heard %.2f s of the 8 s track saved at 4 s", got)
	if got < 3.5 || got > 4.5 {
		t.Errorf("heard %.2f s after resuming at 4 s of 8 s, want about 4 s", got)
	}
	want := decodeFile(t, filepath.Join(e.MediaDir, "saved.wav"))
	if ncc, _ := audiotest.NCC(want[4*48000:], heard, 4800); ncc < 0.95 {
		t.Errorf("resumed audio does not match the source from 4 s: NCC %.3f", ncc)
	}
}

func TestControlsQueueVoteAndAutocomplete(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	long := writeMedia(t, e, "long.wav", audiotest.Tone(48000, 2, 30, 440, 0.5))
	rec := playing(t, ctx, e, g, long)
	for n := range 12 {
		writeMedia(t, e, fmt.Sprintf("q%02d.wav", n), audiotest.Tone(48000, 2, 1, 300+float64(n)*20, 0.5))
		command(t, ctx, e, g, "play", discordtest.StringOption("query", fmt.Sprintf("file:q%02d.wav", n)))
	}
	// /queue pages with buttons.
	m := command(t, ctx, e, g, "queue")
	if !strings.Contains(m.Embeds[0].Footer.Text, "page 1/2") || !slices.Contains(m.CustomIDs(), "q:2") {
		t.Fatalf("queue page 1: %q, buttons %v", m.Embeds[0].Footer.Text, m.CustomIDs())
	}
	click, err := e.Discord.ClickButton(ctx, m.ID, "q:2", g.ListenerID)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := click.WaitResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m2.Embeds[0].Footer.Text, "page 2/2") || !strings.Contains(m2.Embeds[0].Description, "12. ") {
		t.Errorf("queue page 2: %q / %q", m2.Embeds[0].Footer.Text, m2.Embeds[0].Description)
	}
	// /nowplaying: progress bar and a pause button that pauses.
	np := command(t, ctx, e, g, "nowplaying")
	if !strings.Contains(np.Embeds[0].Description, "🔘") || !slices.Contains(np.CustomIDs(), "np:pause") {
		t.Fatalf("nowplaying: %q, buttons %v", np.Embeds[0].Description, np.CustomIDs())
	}
	click, err = e.Discord.ClickButton(ctx, np.ID, "np:pause", g.ListenerID)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := click.WaitResponse(ctx); err != nil || !slices.Contains(m.CustomIDs(), "np:resume") {
		t.Fatalf("after pause button: %v %v", err, m)
	}
	sess, _ := e.BotSession(ctx)
	if err := sess.WaitSpeaking(ctx, 0); err != nil {
		t.Fatalf("pause button did not pause: %v", err)
	}
	command(t, ctx, e, g, "resume")
	// Vote-skip with two listeners (a bot in the channel does not count): 1 of 1 needed at 50 %.
	other := e.Discord.AddUser(discordtest.User{Username: "other bot", Bot: true})
	if err := e.Discord.AddMember(g.ID, other); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Discord.JoinVoice(g.ID, other, g.VoiceID); err != nil {
		t.Fatal(err)
	}
	vote := command(t, ctx, e, g, "voteskip")
	if !strings.Contains(vote.Embeds[0].Title, "skipped") {
		t.Errorf("the only human's vote did not skip: %q %q", vote.Embeds[0].Title, vote.Embeds[0].Description)
	}
	// Autocomplete offers a link back as typed.
	ac, err := e.Discord.Autocomplete(ctx, g.ID, g.TextID, g.ListenerID, "play",
		discordtest.StringOption("query", "https://example.com/a.mp3").Focus())
	if err != nil {
		t.Fatal(err)
	}
	choices, err := ac.Choices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(choices) == 0 || choices[0].StringValue() != "https://example.com/a.mp3" {
		t.Errorf("autocomplete choices %+v", choices)
	}
	_ = rec
}

func TestChannelRulesAndRateLimit(t *testing.T) {
	e, g, ctx := newEnv(t, func(c *bot.Config) {
		c.CommandRate = store.Rate{Events: 1, Per: time.Minute}
		c.CommandBurst = 8
	})
	q := writeMedia(t, e, "t.wav", audiotest.Tone(48000, 2, 1, 440, 0.5))
	stage, err := e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "Stage", Type: discordtest.ChannelStage})
	if err != nil {
		t.Fatal(err)
	}
	full, err := e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "Duo", Type: discordtest.ChannelVoice, UserLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ channel, want string }{
		{stage, "Stage channels"},
		{full, "full"},
	} {
		if _, err := e.Discord.JoinVoice(g.ID, g.ListenerID, tc.channel); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Discord.WaitVoice(ctx, g.ID, g.ListenerID, tc.channel); err != nil {
			t.Fatal(err)
		}
		var m *discordtest.Message
		// The bot learns the listener's move through the gateway; retry while it has not.
		for m == nil || strings.Contains(m.Embeds[0].Description, "Join a voice channel") {
			if m, err = e.Command(ctx, g, "play", discordtest.StringOption("query", q)); err != nil {
				t.Fatal(err)
			}
		}
		if !m.Ephemeral() || !strings.Contains(m.Embeds[0].Description, tc.want) {
			t.Errorf("/play in %s: %q (ephemeral %v), want it to mention %q", tc.channel, m.Embeds[0].Description, m.Ephemeral(), tc.want)
		}
	}
	// The burst of 8 runs out: a command is refused with a clear reply.
	var m *discordtest.Message
	for range 10 {
		if m, err = e.Command(ctx, g, "queue"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.Embeds[0].Description, "too fast") {
			break
		}
	}
	if !m.Ephemeral() || !strings.Contains(m.Embeds[0].Description, "too fast") {
		t.Errorf("no rate limit reply: %q", m.Embeds[0].Description)
	}
}

func TestFailedTrackReportedAndSkipped(t *testing.T) {
	e, g, ctx := newEnv(t, nil)
	news, err := e.Discord.AddChannel(g.ID, discordtest.Channel{Name: "now-playing", Type: discordtest.ChannelText})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := e.Discord.GuildOwner(g.ID)
	if m, err := e.CommandAs(ctx, g, owner, "settings", discordtest.ChannelOption("announce-channel", news)); err != nil || m.Embeds[0].Color == errorColor {
		t.Fatalf("settings: %v %+v", err, m)
	}
	rec := playing(t, ctx, e, g, writeMedia(t, e, "a.wav", audiotest.Tone(48000, 2, 30, 440, 0.5)))
	gone := writeMedia(t, e, "gone.wav", audiotest.Tone(48000, 2, 1, 550, 0.5))
	last := writeMedia(t, e, "last.wav", audiotest.Tone(48000, 2, 1, 660, 0.5))
	command(t, ctx, e, g, "play", discordtest.StringOption("query", gone))
	command(t, ctx, e, g, "play", discordtest.StringOption("query", last))
	if err := rec.WaitPackets(ctx, 10); err != nil {
		t.Fatal(err)
	}
	// The file disappears between queueing and playing (deleted, unmounted).
	if err := os.Remove(filepath.Join(e.MediaDir, "gone.wav")); err != nil {
		t.Fatal(err)
	}
	command(t, ctx, e, g, "skip")
	if _, err := e.WaitEvent(ctx, g.ID, player.EventTrackFailed); err != nil {
		t.Fatal(err)
	}
	msg, err := e.Discord.WaitMessage(ctx, news, func(m *discordtest.Message) bool {
		return len(m.Embeds) > 0 && strings.Contains(m.Embeds[0].Description, "Couldn't play")
	})
	if err != nil {
		t.Fatalf("failure not announced in the announce channel: %v", err)
	}
	t.Logf("announced: %s", msg.Embeds[0].Description)
	ev, err := e.WaitEvent(ctx, g.ID, player.EventTrackStart)
	for err == nil && ev.Track.Title != "last" {
		ev, err = e.WaitEvent(ctx, g.ID, player.EventTrackStart)
	}
	if err != nil {
		t.Fatalf("the track after the failed one did not start: %v", err)
	}
}
