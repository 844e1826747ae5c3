package voice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/voice/voicetest"
)

// allIndices gathers frame indices over several sessions' recorders, in
// session order, checking each recorder's RTP continuity.
func allIndices(t *testing.T, sessions ...*voicetest.Session) []uint32 {
	var all []uint32
	for _, s := range sessions {
		all = append(all, checkContinuous(t, s.Recorder().Packets())...)
	}
	return all
}

func TestDroppedSocketResumes(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 50)
	h.srv.DropSocket()
	h.waitState(StateResuming)
	h.waitState(StateReady)
	h.waitPackets(ss, 150)
	_, resumes, _ := ss.Counters()
	if resumes != 1 {
		t.Fatalf("%d resumes, want 1", resumes)
	}
	if got := h.srv.Sessions(); len(got) != 1 || got[0] != ss {
		t.Fatal("resume created a new session")
	}
	// Media kept flowing through the resume: nothing lost, RTP continuous.
	idx := checkContinuous(t, ss.Recorder().Packets())
	checkIndices(t, idx, 0)
}

func TestResumeReplaysMissedMessages(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 20)
	h.srv.DropSocket()
	// Sent while the socket is down: kept for replay.
	_ = ss.Send(12, map[string]any{"note": "while down"})
	missed := ss.Seq()
	h.waitState(StateReady)
	// The next heartbeat acknowledges the replayed message and Resumed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, ack := ss.Counters()
		if ack >= missed+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seq_ack %d never reached %d", ack, missed+1)
		}
		h.waitPackets(ss, int(ss.Recorder().Received())+10)
	}
}

func TestRefusedResumeStartsNewSession(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 50)
	h.srv.RefuseResume(true)
	h.srv.DropSocket()
	h.waitState(StateResuming)
	e := h.waitState(StateReconnecting)
	if e.Code != 4006 {
		t.Fatalf("reconnecting after code %d, want 4006", e.Code)
	}
	ns := h.waitNewSession(ss, h.srv)
	if ns.SSRC == ss.SSRC {
		t.Fatal("new session kept the old SSRC")
	}
	h.waitPackets(ns, 50)
	checkIndices(t, allIndices(t, ss, ns), 2)
}

func testNewSessionAfter(t *testing.T, code int) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 30)
	h.srv.CloseWithCode(code)
	if e := h.waitState(StateReconnecting); e.Code != code {
		t.Fatalf("reconnecting with code %d", e.Code)
	}
	ns := h.waitNewSession(ss, h.srv)
	h.waitPackets(ns, 50)
	checkIndices(t, allIndices(t, ss, ns), 5)
}

func TestClose4006NewSession(t *testing.T) { testNewSessionAfter(t, 4006) }
func TestClose4009NewSession(t *testing.T) { testNewSessionAfter(t, 4009) }

func TestClose4015Resumes(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 30)
	h.srv.CloseWithCode(4015)
	if e := h.waitState(StateResuming); e.Code != 4015 {
		t.Fatalf("resuming with code %d", e.Code)
	}
	h.waitState(StateReady)
	h.waitPackets(ss, 100)
	if _, resumes, _ := ss.Counters(); resumes != 1 {
		t.Fatalf("%d resumes", resumes)
	}
	checkIndices(t, checkContinuous(t, ss.Recorder().Packets()), 0)
}

func TestClose4014WithNewCredentials(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 30)
	h.srv.AllowSession(guild, user, session, "tok-2")
	h.srv.CloseWithCode(4014)
	if e := h.waitState(StateWaitingForServer); e.Code != 4014 {
		t.Fatalf("waiting with code %d", e.Code)
	}
	h.conn.UpdateServer(h.srv.Endpoint(), "tok-2")
	h.waitState(StateReady)
	ns := h.waitNewSession(ss, h.srv)
	h.waitPackets(ns, 50)
	checkIndices(t, allIndices(t, ss, ns), 5)
}

func TestClose4014WithoutCredentialsStops(t *testing.T) {
	h := newHarness(t, func(_ *voicetest.Config, c *Config) { c.ServerUpdateWait = 100 * time.Millisecond })
	ss := h.connect()
	h.waitPackets(ss, 10)
	h.srv.CloseWithCode(4014)
	e := h.waitState(StateStopped)
	if !errors.Is(e.Err, ErrNoServerUpdate) || !strings.Contains(e.Err.Error(), "4014") {
		t.Fatalf("stop reason %v", e.Err)
	}
	<-h.conn.Done()
	if !errors.Is(h.conn.Err(), ErrNoServerUpdate) {
		t.Fatalf("Err() = %v", h.conn.Err())
	}
	// The old token is never reused: no new Identify reached the server.
	if len(h.srv.Sessions()) != 0 {
		t.Fatal("client identified again with stale credentials")
	}
}

func TestNullEndpointDisconnectsAndWaits(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 20)
	h.conn.UpdateServer("", "")
	h.waitState(StateWaitingForServer)
	before := ss.Recorder().Received()
	if h.conn.SSRC() != 0 {
		t.Fatal("media still up while waiting for a server")
	}
	srv2, err := voicetest.New(voicetest.Config{CA: h.srv.CA(), HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	srv2.AllowSession(guild, user, session, "tok-3")
	h.conn.UpdateServer(srv2.Endpoint(), "tok-3")
	h.waitState(StateReady)
	ns, err := srv2.WaitSession(h.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	h.waitPackets(ns, 40)
	if ss.Recorder().Received() > before+1 {
		t.Fatal("old server kept receiving after the null endpoint")
	}
	checkIndices(t, allIndices(t, ss, ns), 2)
}

func testStops(t *testing.T, code int, want error) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 10)
	h.srv.CloseWithCode(code)
	e := h.waitState(StateStopped)
	var ce *CloseError
	switch {
	case want != nil && !errors.Is(e.Err, want):
		t.Fatalf("stop reason %v, want %v", e.Err, want)
	case want == nil && (!errors.As(e.Err, &ce) || ce.Code != code):
		t.Fatalf("stop reason %v, want close %d", e.Err, code)
	}
}

func TestClose4017DAVERequired(t *testing.T) {
	testStops(t, 4017, ErrDAVERequired)
}
func TestClose4021Stops(t *testing.T) { testStops(t, 4021, nil) }
func TestClose4022Stops(t *testing.T) { testStops(t, 4022, nil) }

func TestServerMoveKeepsPosition(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 40)
	dst, err := voicetest.New(voicetest.Config{CA: h.srv.CA(), HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	h.srv.MoveTo(dst, "tok-moved")
	h.conn.UpdateServer(dst.Endpoint(), "tok-moved")
	ns, err := dst.WaitSession(h.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	h.waitPackets(ns, 60)
	idx := allIndices(t, ss, ns)
	// Frames sent to the old server after it dropped the session are lost in
	// flight (a few), but the player's position is kept: no restart, no repeat.
	checkIndices(t, idx, 10)
	first := checkContinuous(t, ns.Recorder().Packets())[0]
	if first < 40 {
		t.Fatalf("playback restarted at frame %d after the move", first)
	}
}

func TestLeavingChannelStops(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 5)
	h.conn.UpdateState(session, "")
	if e := h.waitState(StateStopped); !errors.Is(e.Err, ErrLeftChannel) {
		t.Fatalf("stop reason %v", e.Err)
	}
}

func TestCloseCodeTable(t *testing.T) {
	want := map[int]Action{
		4006: ActionNewSession, 4009: ActionNewSession, 4014: ActionWaitServerUpdate,
		4015: ActionResume, 4017: ActionStop, 4021: ActionStop, 4022: ActionStop, 1006: ActionResume,
	}
	for code, a := range want {
		if got := LookupCloseCode(code).Action; got != a {
			t.Errorf("%d: %v, want %v", code, got, a)
		}
	}
	seen := map[int]bool{}
	for _, c := range closeCodes {
		if seen[c.Code] || c.Meaning == "" {
			t.Errorf("table entry %d duplicated or without meaning", c.Code)
		}
		seen[c.Code] = true
	}
}

func TestChannelMoveNeverReusesToken(t *testing.T) {
	h := newHarness(t)
	ss := h.connect()
	h.waitPackets(ss, 10)
	// Moved to another channel: the old token is stale. Even a close that
	// normally re-identifies with the current credentials (4006) must now
	// wait for a new VOICE_SERVER_UPDATE instead of reusing them.
	h.conn.UpdateState(session, "chan-2")
	h.srv.CloseWithCode(4006)
	for e := range h.events {
		if e.State == StateReconnecting {
			t.Fatal("re-identified with the old channel's token")
		}
		if e.State == StateWaitingForServer {
			break
		}
	}
	// Only the new VOICE_SERVER_UPDATE's token brings the connection back.
	h.srv.AllowSession(guild, user, session, "tok-chan-2")
	h.conn.UpdateServer(h.srv.Endpoint(), "tok-chan-2")
	h.waitState(StateReady)
	ns := h.waitNewSession(ss, h.srv)
	h.waitPackets(ns, 20)
}
