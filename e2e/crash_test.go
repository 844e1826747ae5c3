package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/discordtest"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice/voicetest"
)

// TestKillNineResumes kills the bot process with SIGKILL nine seconds into a
// 60 s track and starts a new process on the same store: the bot must rejoin
// the listener's channel, resume the track within 5 s of where it was and
// keep the queue.
func TestKillNineResumes(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	t.Run("embedded", func(t *testing.T) { killNineResumes(t, "") })
	t.Run("redis", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		killNineResumes(t, startRedis(t, ctx).URL())
	})
}

func killNineResumes(t *testing.T, redisURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	v, err := voicetest.New(voicetest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	d := discordtest.New(discordtest.Config{Addr: "127.0.0.1:0", BotName: "Quaver", Voice: v,
		InteractionTimeout: 10 * time.Second, RateLimit: 1000, RateLimitWindow: time.Second})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	guild := d.AddGuild("crash")
	text, err := d.AddChannel(guild, discordtest.Channel{Name: "music", Type: discordtest.ChannelText})
	if err != nil {
		t.Fatal(err)
	}
	voiceCh, err := d.AddChannel(guild, discordtest.Channel{Name: "Lounge", Type: discordtest.ChannelVoice})
	if err != nil {
		t.Fatal(err)
	}
	listener := d.AddUser(discordtest.User{Username: "listener"})
	if err := d.AddMember(guild, listener); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	media := filepath.Join(dir, "media")
	if err := os.Mkdir(media, 0o755); err != nil {
		t.Fatal(err)
	}
	// White noise is never alike at two offsets: where heard audio lies in
	// the source is unambiguous.
	first := filepath.Join(media, "first.wav")
	second := filepath.Join(media, "second.wav")
	if err := os.WriteFile(first, audiotest.WAV(audiotest.Noise(48000, 2, 60, 0.3, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, audiotest.WAV(audiotest.Noise(48000, 2, 2, 0.3, 2)), 0o644); err != nil {
		t.Fatal(err)
	}

	a := startChild(t, ctx, d, v, dir, redisURL, "bot-a")
	botID := d.BotID()
	if _, err := d.JoinVoice(guild, listener, voiceCh); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"file:first.wav", "file:second.wav"} {
		inv, err := d.InvokeCommand(ctx, guild, text, listener, "play", discordtest.StringOption("query", q))
		if err != nil {
			t.Fatal(err)
		}
		m, err := inv.WaitResponse(ctx)
		if err != nil {
			t.Fatalf("/play %s: %v\n%s", q, err, tail(a.log, 20))
		}
		if len(m.Embeds) > 0 && m.Embeds[0].Color == errorColor {
			t.Fatalf("/play %s: %s", q, m.Embeds[0].Description)
		}
	}
	old, err := v.WaitSession(ctx, botID)
	if err != nil {
		t.Fatal(err)
	}
	// 9 s heard: between two 5 s position checkpoints, so the resume shows
	// the real cost of a crash rather than a lucky kill just after one.
	if err := old.Recorder().WaitPackets(ctx, 450); err != nil {
		t.Fatal(err)
	}
	a.kill(t)
	killed := time.Now()
	before := old.Recorder().Packets()

	b := startChild(t, ctx, d, v, dir, redisURL, "bot-b")
	// The new process's voice session: another session of the bot user.
	var sess *voicetest.Session
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sess == nil {
		for _, s := range v.Sessions() {
			if s.UserID == botID && s != old && s.Recorder().Received() >= 75 {
				sess = s
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no audio from the restarted bot: %v\n%s", ctx.Err(), tail(b.log, 30))
		}
	}
	if vs, ok := d.VoiceState(guild, botID); !ok || vs.ChannelID != voiceCh {
		t.Errorf("restarted bot's voice state %+v, want channel %s", vs, voiceCh)
	}
	if sess.ServerID != guild {
		t.Errorf("restarted bot's voice session is for server %s, want guild %s", sess.ServerID, guild)
	}
	after := sess.Recorder().Packets()
	firstPacket := after[0].Arrival

	src := audiotest.Decode(t, first, 48000, 1).Samples
	heardBefore := decodePackets(t, before)
	heardAfter := decodePackets(t, after)
	// Where the old process stopped: its last second of audio, located in the source.
	exBefore := heardBefore[len(heardBefore)-48000-4800 : len(heardBefore)-4800]
	atBefore, nccBefore := locate(src, exBefore, 0, 60)
	stopped := atBefore + float64(48000+4800)/48000
	// Where the new process resumed: its first second after 0.1 s (decoder warm-up).
	exAfter := heardAfter[4800 : 4800+48000]
	atAfter, nccAfter := locate(src, exAfter, 0, 60)
	resumed := atAfter - 0.1
	offset := resumed - stopped
	t.Logf("killed at track position %.3f s (NCC %.3f); resumed at %.3f s (NCC %.3f): offset %+.3f s",
		stopped, nccBefore, resumed, nccAfter, offset)
	t.Logf("restart to first packet %v (process start to READY %v, kill to first packet %v)",
		firstPacket.Sub(b.started).Round(time.Millisecond), b.ready.Sub(b.started).Round(time.Millisecond),
		firstPacket.Sub(killed).Round(time.Millisecond))
	if nccBefore < 0.6 || nccAfter < 0.6 {
		t.Fatalf("heard audio not found in the source (NCC %.3f before, %.3f after the restart)", nccBefore, nccAfter)
	}
	if offset < -5 || offset > 0.5 {
		t.Errorf("resumed at %.3f s, %+.3f s from where playback was killed (%.3f s); want within 5 s", resumed, offset, stopped)
	}

	// The queue survived: seek near the end and the second track follows.
	inv, err := d.InvokeCommand(ctx, guild, text, listener, "seek", discordtest.StringOption("position", "0:58"))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := inv.WaitResponse(ctx); err != nil || (len(m.Embeds) > 0 && m.Embeds[0].Color == errorColor) {
		t.Fatalf("/seek after the restart: %v %+v", err, m)
	}
	if _, err := d.WaitMessage(ctx, text, func(m *discordtest.Message) bool {
		return len(m.Embeds) > 0 && m.Embeds[0].Title == "Now playing" && strings.Contains(m.Embeds[0].Description, "second")
	}); err != nil {
		t.Fatalf("the queued second track was not announced after the restart: %v\n%s", err, tail(b.log, 30))
	}
	n := int(sess.Recorder().Received())
	if err := sess.Recorder().WaitPackets(ctx, n+60); err != nil {
		t.Fatal(err)
	}
	heard := decodePackets(t, sess.Recorder().Packets())
	ex := heard[len(heard)-36000 : len(heard)-12000]
	src2 := audiotest.Decode(t, second, 48000, 1).Samples
	at2, ncc2 := locate(src2, ex, 0, 2)
	t.Logf("second track heard at %.3f s of it (NCC %.3f)", at2, ncc2)
	if ncc2 < 0.6 {
		t.Errorf("the audio after the second track's announcement is not the second track (NCC %.3f)", ncc2)
	}
}
