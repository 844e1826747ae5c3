package voicetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverbot/quaver/audio/audiotest"
	"github.com/quaverbot/quaver/audio/ogg"
	"github.com/quaverbot/quaver/audio/synth"
	"github.com/quaverbot/quaver/internal/testenv"
	"github.com/quaverbot/quaver/voice"
	"github.com/quaverbot/quaver/voice/dave"
	"github.com/quaverbot/quaver/voice/dave/frame"
	"github.com/quaverbot/quaver/voice/pacer"
)

// packetSource plays a list of Opus packets once.
type packetSource struct {
	pkts [][]byte
	next atomic.Int64
}

func (p *packetSource) NextFrame() ([]byte, bool) {
	i := p.next.Load()
	if int(i) >= len(p.pkts) {
		return nil, false
	}
	p.next.Add(1)
	return p.pkts[i], true
}

func daveServer(t *testing.T, listener uint64) (*Server, *DAVE, *pacer.Pacer) {
	t.Helper()
	role, err := NewDAVE(DAVEConfig{ChannelID: 555, ListenerUserID: listener, Require: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{HeartbeatInterval: time.Second, DAVE: role})
	if err != nil {
		t.Fatal(err)
	}
	role.Attach(srv)
	t.Cleanup(func() { srv.Close() })
	p, err := pacer.New(pacer.Config{Workers: 1, Interval: 5 * time.Millisecond, MaxCatchUp: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return srv, role, p
}

func botConfig(srv *Server, p *pacer.Pacer, user string) voice.Config {
	cfg := voice.DefaultConfig()
	cfg.Endpoint, cfg.GuildID, cfg.UserID, cfg.SessionID, cfg.Token = srv.Endpoint(), "1", user, "sess-"+user, "tok-"+user
	cfg.ChannelID = "555"
	cfg.RootCAs = srv.CA().Pool()
	cfg.Pacer = p
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv.AllowSession("1", user, cfg.SessionID, cfg.Token)
	return cfg
}

// opusSource encodes two seconds of music to Ogg Opus with ffmpeg and
// returns the file, its packets and its reader (for the header fields).
func opusSource(t *testing.T) (string, [][]byte, *ogg.OpusReader) {
	t.Helper()
	testenv.Tool(t, "ffmpeg")
	src := audiotest.Convert(t, synth.Music(48000, 2, 2.0), "src.ogg", "-c:a", "libopus", "-b:a", "96k", "-frame_duration", "20")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := ogg.NewOpusReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for {
		pk, err := rd.ReadPacket()
		if errors.Is(err, io.EOF) {
			return src, pkts, rd
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, bytes.Clone(pk))
	}
}

// heard has the listener decrypt what user sent (every packet but Opus
// silence must be a DAVE protocol frame), writes the Opus to Ogg, and checks
// that ffmpeg decodes it to the source audio (NCC ≥ 0.95).
func heard(t *testing.T, l *Listener, user uint64, got []Packet, sent int, src string, rd *ogg.OpusReader) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "heard.ogg")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	wcfg := ogg.DefaultOpusWriterConfig()
	wcfg.Channels, wcfg.PreSkip = rd.Channels(), rd.PreSkip()
	w, err := ogg.NewOpusWriter(of, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	var protocol int
	for _, pk := range got {
		if frame.IsSilence(pk.Opus) {
			continue
		}
		if !bytes.HasSuffix(pk.Opus, []byte{0xFA, 0xFA}) {
			t.Fatalf("packet %d reached the server without DAVE encryption", pk.Seq)
		}
		protocol++
		plain, err := l.DecryptFrame(user, nil, pk.Opus)
		if err != nil {
			t.Fatalf("listener could not decrypt packet %d: %v", pk.Seq, err)
		}
		n, err := ogg.PacketSamples(plain)
		if err != nil {
			t.Fatalf("decrypted packet %d is not Opus: %v", pk.Seq, err)
		}
		if err := w.WritePacket(plain, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	of.Close()
	if protocol < sent {
		t.Fatalf("%d protocol frames, %d sent", protocol, sent)
	}
	want := audiotest.Decode(t, src, 48000, 1).Samples
	dec := audiotest.Decode(t, out, 48000, 1).Samples
	ncc, lag := audiotest.NCC(want, dec, 48000/5)
	t.Logf("NCC %.4f at lag %d over %d frames", ncc, lag, protocol)
	if ncc < 0.95 {
		t.Fatalf("decoded audio differs from the source: NCC %.3f", ncc)
	}
}

// TestDaveEndToEnd: our voice connection negotiates DAVE with the local
// voice server, which plays Discord's gateway; the server's listener member
// joins the group through the bot's welcome, every frame the bot sends is a
// DAVE protocol frame, and the listener's decrypted Opus decodes (ffmpeg) to
// the source audio.
func TestDaveEndToEnd(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	srv, role, p := daveServer(t, 999)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	src, pkts, rd := opusSource(t)

	encrypting := make(chan struct{}, 1)
	sess := dave.NewSession(dave.Config{UserID: 111, ChannelID: 555, Logger: slog.New(slog.DiscardHandler),
		OnTransition: func(_ int, enc bool) {
			if enc {
				select {
				case encrypting <- struct{}{}:
				default:
				}
			}
		}})
	cfg := botConfig(srv, p, "111")
	cfg.MaxDAVEProtocolVersion = dave.ProtocolVersion
	cfg.Encryptor, cfg.DAVE = sess, sess
	conn := voice.New(cfg)
	if err := conn.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.DAVEProtocolVersion() != 1 {
		t.Fatalf("DAVE version %d", conn.DAVEProtocolVersion())
	}
	if err := sess.Connected(ctx, conn); err != nil {
		t.Fatal(err)
	}
	select {
	case <-encrypting:
	case <-ctx.Done():
		t.Fatal("the bot never started encrypting")
	}
	if role.Epoch() != 1 || role.Listener().Epoch() != 1 || sess.Epoch() != 1 {
		t.Fatalf("epochs: gateway %d, listener %d, bot %d", role.Epoch(), role.Listener().Epoch(), sess.Epoch())
	}
	if !bytes.Equal(role.Listener().EpochAuthenticator(), sess.EpochAuthenticator()) {
		t.Fatal("the bot and the listener disagree on the epoch authenticator")
	}

	ss, err := srv.WaitSession(ctx, "111")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetSource(&packetSource{pkts: pkts})
	if err := ss.Recorder().WaitPackets(ctx, len(pkts)); err != nil {
		t.Fatal(err)
	}

	heard(t, role.Listener(), 111, ss.Recorder().Packets(), len(pkts), src, rd)
}

// TestDaveRequired: a client that offers no DAVE is closed with 4017 and
// Quaver's client gives up with that reason.
func TestDaveRequired(t *testing.T) {
	srv, _, p := daveServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := botConfig(srv, p, "222")
	conn := voice.New(cfg)
	defer conn.Close()
	err := conn.Connect(ctx)
	if err == nil {
		select {
		case <-conn.Done():
			err = conn.Err()
		case <-ctx.Done():
		}
	}
	var ce *voice.CloseError
	if !errors.Is(err, voice.ErrDAVERequired) && !(errors.As(err, &ce) && ce.Code == CloseDAVERequired) {
		t.Fatalf("connect without DAVE: %v, want close 4017", err)
	}
}

// daveBot is one of our voice connections with a DAVE session.
type daveBot struct {
	conn  *voice.Conn
	sess  *dave.Session
	trans chan struct{}
}

func connectDaveBot(t *testing.T, ctx context.Context, srv *Server, p *pacer.Pacer, user uint64) *daveBot {
	t.Helper()
	b := &daveBot{trans: make(chan struct{}, 16)}
	b.sess = dave.NewSession(dave.Config{UserID: user, ChannelID: 555, Logger: slog.New(slog.DiscardHandler),
		OnTransition: func(int, bool) {
			select {
			case b.trans <- struct{}{}:
			default:
			}
		}})
	cfg := botConfig(srv, p, strconv.FormatUint(user, 10))
	cfg.MaxDAVEProtocolVersion = dave.ProtocolVersion
	cfg.Encryptor, cfg.DAVE = b.sess, b.sess
	b.conn = voice.New(cfg)
	if err := b.conn.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.conn.Close() })
	if err := b.sess.Connected(ctx, b.conn); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitEpoch waits for transitions until the bot's group is in epoch want.
func (b *daveBot) waitEpoch(t *testing.T, ctx context.Context, want uint64) {
	t.Helper()
	for b.sess.Epoch() != want || !b.sess.Encrypting() {
		select {
		case <-b.trans:
		case <-ctx.Done():
			t.Fatalf("bot stuck in epoch %d, want %d", b.sess.Epoch(), want)
		}
	}
}

// TestDaveMembersComeAndGo: a second client joining is added by the first
// one's commit and a leaving client is removed by it, through the server's
// proposals; after each change the listener reads the first client's frames
// and agrees on the epoch authenticator.
func TestDaveMembersComeAndGo(t *testing.T) {
	srv, role, p := daveServer(t, 999)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	check := func(b *daveBot, epoch uint64) {
		t.Helper()
		b.waitEpoch(t, ctx, epoch)
		if role.Listener().Epoch() != epoch || !bytes.Equal(role.Listener().EpochAuthenticator(), b.sess.EpochAuthenticator()) {
			t.Fatalf("listener in epoch %d, disagreeing with the bot in epoch %d", role.Listener().Epoch(), epoch)
		}
		f := []byte("an opus frame of epoch " + strconv.FormatUint(epoch, 10))
		enc, err := b.sess.EncryptFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := role.Listener().DecryptFrame(111, nil, enc)
		if err != nil || !bytes.Equal(got, f) || bytes.Equal(enc, f) {
			t.Fatalf("epoch %d: listener read %q, %v", epoch, got, err)
		}
	}
	a := connectDaveBot(t, ctx, srv, p, 111)
	check(a, 1)
	b := connectDaveBot(t, ctx, srv, p, 333)
	b.waitEpoch(t, ctx, 2)
	check(a, 2)
	if len(b.sess.Members()) != 3 {
		t.Fatalf("the second bot sees members %v", b.sess.Members())
	}
	for _, ss := range srv.Sessions() {
		if ss.UserID == "333" {
			ss.CloseWithCode(CloseCallTerminated) // Discord ends the session of a user who leaves
		}
	}
	check(a, 3)
	if m := a.sess.Members(); len(m) != 2 {
		t.Fatalf("after the leave the bot sees members %v", m)
	}
}
