package player

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/quaverbot/quaver/store"
)

// TestGaplessSwitch plays three tracks back to back and counts every frame:
// each frame of each track arrives exactly once, in order, with no empty
// pull between tracks.
func TestGaplessSwitch(t *testing.T) {
	h := newHarness(t, nil)
	a, b, c := h.eng.track("a", 50), h.eng.track("b", 30), h.eng.track("c", 20)
	if _, err := h.p.Enqueue(a, b, c); err != nil {
		t.Fatal(err)
	}
	conn := h.join()
	src := conn.source()
	if e := h.event(EventTrackStart); e.Track.ID != "a" || e.GuildID != "g1" {
		t.Fatalf("first announcement %+v", e)
	}
	// For each track: the first pull switches to it (after the first track),
	// then the one after it is preloaded, then the rest of the track is pulled.
	var got [][2]int
	for i, n := range []int{50, 30, 20} {
		got = append(got, h.pull(src, 1)...)
		if i < 2 {
			h.preloaded()
		}
		got = append(got, h.pull(src, n-1)...)
	}
	want := make([][2]int, 0, 100)
	for track, n := range []int{50, 30, 20} {
		for i := 0; i < n; i++ {
			want = append(want, [2]int{track + 1, i})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("frames differ: got %d frames, first difference at %d", len(got), firstDiff(got, want))
	}
	if _, ok := src.NextFrame(); ok {
		t.Fatal("a frame after the last track ended")
	}
	if e := h.event(EventTrackStart); e.Track.ID != "b" {
		t.Fatalf("second announcement %+v", e)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "c" {
		t.Fatalf("third announcement %+v", e)
	}
	h.event(EventQueueEnd)
	h.waitState(StateIdle)
	st := h.p.Status()
	if len(st.History) != 3 || st.History[0].ID != "a" || st.History[2].ID != "c" {
		t.Fatalf("history %+v", st.History)
	}
	if n := len(h.eng.Opens()); n != 3 {
		t.Fatalf("%d opens for 3 tracks: %+v", n, h.eng.Opens())
	}
}

func firstDiff(a, b [][2]int) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// TestGaplessLoopTrack loops a track: the repeat starts right after the
// last frame and is not announced again.
func TestGaplessLoopTrack(t *testing.T) {
	h := newHarness(t, nil)
	a := h.eng.track("a", 10)
	h.p.Enqueue(a)
	if err := h.p.SetLoop(store.LoopTrack); err != nil {
		t.Fatal(err)
	}
	src := h.join().source()
	h.event(EventTrackStart)
	var got [][2]int
	for i := 0; i < 3; i++ {
		got = append(got, h.pull(src, 1)...)
		h.preloaded()
		got = append(got, h.pull(src, 9)...)
	}
	for i, f := range got {
		if f != [2]int{1, i % 10} {
			t.Fatalf("frame %d = %v, want track 1 frame %d", i, f, i%10)
		}
	}
	h.noEvent()
	if st := h.p.Status(); st.Current == nil || st.Current.ID != "a" || len(st.History) != 0 {
		t.Fatalf("looping track status %+v", st)
	}
}

func TestStateTransitions(t *testing.T) {
	h := newHarness(t, nil)
	a := h.eng.track("a", 100)
	if st := h.p.Status().State; st != StateIdle {
		t.Fatalf("new player state %v", st)
	}
	if err := h.p.Pause(); !errors.Is(err, ErrNothingPlaying) {
		t.Fatalf("pause when idle: %v", err)
	}
	release := make(chan struct{})
	h.voice.block = release
	joined := make(chan error, 1)
	go func() { _, err := h.p.Play(context.Background(), "vc1", a); joined <- err }()
	<-h.voice.joined
	h.waitState(StateConnecting)
	if err := h.p.Join(context.Background(), "vc1"); !errors.Is(err, ErrConnecting) {
		t.Fatalf("second join while connecting: %v", err)
	}
	close(release)
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	h.event(EventTrackStart)
	if st := h.p.Status().State; st != StatePlaying {
		t.Fatalf("after join: %v", st)
	}
	src := h.voice.last().source()
	h.pull(src, 5)

	if err := h.p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Pause(); !errors.Is(err, ErrAlreadyPaused) {
		t.Fatalf("second pause: %v", err)
	}
	if h.p.Status().State != StatePaused {
		t.Fatal("not paused")
	}
	for i := 0; i < 3; i++ {
		if _, ok := src.NextFrame(); ok {
			t.Fatal("frame while paused")
		}
	}
	if err := h.p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Resume(); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("second resume: %v", err)
	}
	// Playback continues exactly where it paused.
	if got := h.pull(src, 1)[0]; got != [2]int{1, 5} {
		t.Fatalf("after resume frame %v, want [1 5]", got)
	}
	if err := h.p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := src.NextFrame(); ok {
		t.Fatal("frame after stop")
	}
	if st := h.p.Status(); st.State != StateIdle || st.Current != nil || st.VoiceChannelID != "vc1" {
		t.Fatalf("after stop %+v", st)
	}
	if err := h.p.Leave(); err != nil {
		t.Fatal(err)
	}
	if !h.voice.last().left.Load() {
		t.Fatal("Leave did not leave the voice connection")
	}
	if err := h.p.Leave(); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("second leave: %v", err)
	}
	h.p.Close()
	if n := h.eng.unclosed(); n != 0 {
		t.Fatalf("%d streams left open", n)
	}
}

func TestJoinFailureIsReported(t *testing.T) {
	h := newHarness(t, nil)
	h.voice.err = errors.New("the bot lacks the Speak permission in that channel")
	_, err := h.p.Play(context.Background(), "vc1", h.eng.track("a", 5))
	if err == nil || err.Error() != "the bot lacks the Speak permission in that channel" {
		t.Fatalf("join error %v", err)
	}
	if st := h.p.Status(); st.State != StateIdle || st.Current == nil {
		t.Fatalf("after failed join %+v (the track should wait for a later join)", st)
	}
}

func TestCommandsPlaying(t *testing.T) {
	h := newHarness(t, nil)
	tracks := []store.Track{h.eng.track("a", 500), h.eng.track("b", 500), h.eng.track("c", 500), h.eng.track("d", 500)}
	h.p.Enqueue(tracks...)
	src := h.join().source()
	h.event(EventTrackStart)
	h.preloaded()

	skipped, err := h.p.Skip()
	if err != nil || skipped.ID != "a" {
		t.Fatalf("skip %v %v", skipped, err)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "b" {
		t.Fatalf("after skip %+v", e)
	}
	// b was preloaded: the skip plays it from the very next frame, without reopening it.
	if got := h.pull(src, 1)[0]; got != [2]int{2, 0} {
		t.Fatalf("after skip frame %v", got)
	}
	bOpens := 0
	for _, o := range h.eng.Opens() {
		if o.id == "b" {
			bOpens++
		}
	}
	if bOpens != 1 {
		t.Fatalf("b opened %d times", bOpens)
	}
	if err := h.p.Move(2, 1); err != nil { // c,d -> d,c
		t.Fatal(err)
	}
	if got, err := h.p.SkipTo(2); err != nil || got.ID != "c" {
		t.Fatalf("skipto %v %v", got, err)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "c" {
		t.Fatalf("after skipto %+v", e)
	}
	if _, err := h.p.Remove(1); !errors.Is(err, ErrQueueEmpty) {
		t.Fatalf("remove from an empty queue: %v", err)
	}
	h.p.Enqueue(h.eng.track("e", 10))
	if _, err := h.p.Remove(5); !errors.Is(err, ErrBadPosition) || err.Error() != "there is no track at that position: 5 (the queue has 1)" {
		t.Fatalf("remove 5: %v", err)
	}
	if err := h.p.SetVolume(1001); !errors.Is(err, ErrVolumeRange) {
		t.Fatalf("volume 1001: %v", err)
	}
	if err := h.p.SetVolume(250); err != nil {
		t.Fatal(err)
	}
	h.eng.mu.Lock()
	last := h.eng.streams[len(h.eng.streams)-1]
	h.eng.mu.Unlock()
	if v := last.vol.Load(); v != 250 {
		t.Fatalf("stream volume %d after SetVolume(250)", v)
	}
	if err := h.p.SetLoop("sideways"); !errors.Is(err, ErrBadLoopMode) {
		t.Fatalf("bad loop: %v", err)
	}
	if err := h.p.Seek(context.Background(), time.Hour); !errors.Is(err, ErrSeekRange) {
		t.Fatalf("seek past end: %v", err)
	}
	if err := h.p.Seek(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	cur := h.currentStream()
	if got := time.Duration(cur.seekTo.Load()); got != 3*time.Second {
		t.Fatalf("stream seeked to %v", got)
	}
}

func (h *harness) currentStream() *fakeStream {
	c := h.p.src.cur.Load()
	if c == nil {
		h.t.Fatal("no current stream")
	}
	return c.stream.(*fakeStream)
}

// TestSeekReopens checks that a stream that cannot seek is reopened at the position.
func TestSeekReopens(t *testing.T) {
	h := newHarness(t, nil)
	a := h.eng.track("a", 1000)
	h.eng.spec("a").seekErr = errors.New("not seekable")
	h.p.Enqueue(a)
	src := h.join().source()
	h.event(EventTrackStart)
	<-h.eng.opened
	if err := h.p.Seek(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	<-h.eng.opened
	deadline := time.Now().Add(waitFor)
	for {
		if f, ok := src.NextFrame(); ok {
			tr, seq := decodeFrame(f)
			if tr == 1 && seq == 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("reopened stream never started at frame 500")
		}
		waitTick()
	}
	opens := h.eng.Opens()
	if len(opens) != 2 || opens[1].seek != 10*time.Second {
		t.Fatalf("opens %+v", opens)
	}
	h.noEvent() // a reopen is not a new track
}

func TestFailedTrackRetryThenSkip(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.eng.track("a", 100), h.eng.track("b", 100)
	sp := h.eng.spec("a")
	sp.failAfter, sp.failStreams = 10, 2 // fails twice mid-track
	h.p.Enqueue(a, b)
	src := h.join().source()
	h.event(EventTrackStart)
	got := h.pull(src, 10)
	if _, ok := src.NextFrame(); ok {
		t.Fatal("frame after failure")
	}
	// The retry reopens at the failure point and fails again after 10 more frames.
	deadline := time.Now().Add(waitFor)
	for len(got) < 20 {
		if f, ok := src.NextFrame(); ok {
			tr, seq := decodeFrame(f)
			got = append(got, [2]int{tr, seq})
		} else if time.Now().After(deadline) {
			t.Fatalf("retry gave %v", got)
		} else {
			waitTick()
		}
	}
	for i, f := range got {
		if f != [2]int{1, i} {
			t.Fatalf("frame %d = %v, want [1 %d]: the retry must resume where it failed", i, f, i)
		}
	}
	src.NextFrame() // the second failure is seen
	e := h.event(EventTrackFailed)
	if e.Track.ID != "a" || e.Err == nil || e.Err.Error() != "stream failed: unexpected EOF" {
		t.Fatalf("failure event %+v", e)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "b" {
		t.Fatalf("after failure %+v", e)
	}
	var aOpens []openCall
	for _, o := range h.eng.Opens() {
		if o.id == "a" {
			aOpens = append(aOpens, o)
		}
	}
	if len(aOpens) != 2 || aOpens[1].seek != 200*time.Millisecond {
		t.Fatalf("opens of a %+v: want one retry at 200ms", aOpens)
	}
	// b plays from its first frame, once.
	if f := h.nextFrame(src); f != [2]int{2, 0} {
		t.Fatalf("after the skip frame %v, want [2 0]", f)
	}
}

func TestRetrySucceedsSilently(t *testing.T) {
	h := newHarness(t, nil)
	a := h.eng.track("a", 10)
	h.eng.spec("a").failOpens = 1
	h.p.Enqueue(a)
	src := h.join().source()
	h.event(EventTrackStart)
	if got := h.pull(src, 10); got[0] != [2]int{1, 0} || got[9] != [2]int{1, 9} {
		t.Fatalf("frames %v", got)
	}
	src.NextFrame() // sees the end
	h.event(EventQueueEnd)
}

func TestAllTracksFailStops(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxFailStreak = 3 })
	var ts []store.Track
	for _, id := range []string{"a", "b", "c", "d"} {
		ts = append(ts, h.eng.track(id, 10))
		h.eng.spec(id).failOpens = 100
	}
	h.p.SetLoop(store.LoopQueue)
	h.p.Enqueue(ts...)
	h.join()
	for i := 0; i < 3; i++ {
		h.event(EventTrackFailed)
	}
	h.event(EventStopped)
	h.waitState(StateIdle)
}

func TestAutoLeaveIdle(t *testing.T) {
	h := newHarness(t, nil)
	conn := h.join()
	h.clock.Advance(2 * time.Minute)
	h.noEvent()
	h.clock.Advance(time.Minute)
	if e := h.event(EventAutoLeave); e.Reason != "idle" {
		t.Fatalf("reason %q", e.Reason)
	}
	waitLeft(t, conn)
	if h.p.Status().VoiceChannelID != "" {
		t.Fatal("still reports a voice channel")
	}
}

// waitLeft waits until the player left the voice connection.
func waitLeft(t *testing.T, c *fakeConn) {
	t.Helper()
	select {
	case <-c.Done():
		if !c.left.Load() {
			t.Fatal("connection ended without Leave")
		}
	case <-time.After(waitFor):
		t.Fatal("did not leave the voice channel")
	}
}

func TestAutoLeaveAlone(t *testing.T) {
	h := newHarness(t, nil)
	h.p.Enqueue(h.eng.track("a", 100000))
	conn := h.join()
	h.event(EventTrackStart)
	h.p.SetListeners(0)
	h.clock.Advance(2 * time.Minute)
	h.p.SetListeners(2) // someone came back: the timer stops
	h.clock.Advance(5 * time.Minute)
	if conn.left.Load() {
		t.Fatal("left while people listen")
	}
	h.p.SetListeners(0)
	h.clock.Advance(3 * time.Minute)
	if e := h.event(EventAutoLeave); e.Reason != "alone" {
		t.Fatalf("reason %q", e.Reason)
	}
	waitLeft(t, conn)
}

func TestVoteSkip(t *testing.T) {
	h := newHarness(t, nil)
	h.p.Enqueue(h.eng.track("a", 1000), h.eng.track("b", 1000))
	h.join()
	h.event(EventTrackStart)
	ls := []Listener{{ID: "u1"}, {ID: "u2"}, {ID: "u3"}, {ID: "u4"}, {ID: "bot", Bot: true}, {ID: "bot2", Bot: true}}
	if _, err := h.p.VoteSkip("bot", ls, 0.5); !errors.Is(err, ErrNotListener) {
		t.Fatalf("bot vote: %v", err)
	}
	if _, err := h.p.VoteSkip("stranger", ls, 0.5); !errors.Is(err, ErrNotListener) {
		t.Fatalf("outsider vote: %v", err)
	}
	r, err := h.p.VoteSkip("u1", ls, 0.75)
	if err != nil || r.Votes != 1 || r.Needed != 3 || r.Skipped {
		t.Fatalf("first vote %+v %v", r, err)
	}
	r, _ = h.p.VoteSkip("u1", ls, 0.75)
	if !r.AlreadyVoted || r.Votes != 1 {
		t.Fatalf("repeat vote %+v", r)
	}
	r, _ = h.p.VoteSkip("u2", ls, 0.75)
	if r.Votes != 2 || r.Skipped {
		t.Fatalf("second vote %+v", r)
	}
	// u1 leaves: their vote no longer counts; 3 humans left at 0.75 need 3.
	ls = ls[1:]
	r, _ = h.p.VoteSkip("u3", ls, 0.75)
	if r.Votes != 2 || r.Needed != 3 || r.Skipped {
		t.Fatalf("after a voter left %+v", r)
	}
	r, _ = h.p.VoteSkip("u4", ls, 0.75)
	if !r.Skipped || r.Track.ID != "a" {
		t.Fatalf("final vote %+v", r)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "b" {
		t.Fatalf("after vote-skip %+v", e)
	}
	// Votes start over for the new track.
	r, _ = h.p.VoteSkip("u2", ls, 0.75)
	if r.Votes != 1 || r.AlreadyVoted {
		t.Fatalf("votes carried over %+v", r)
	}
}

func TestKickDisconnects(t *testing.T) {
	h := newHarness(t, nil)
	h.p.Enqueue(h.eng.track("a", 1000), h.eng.track("b", 10))
	conn := h.join()
	h.event(EventTrackStart)
	h.pull(conn.source(), 50)
	conn.kick(errors.New("voice: disconnected by Discord (close code 4014)"))
	e := h.event(EventDisconnected)
	if e.Err == nil || e.Err.Error() != "voice: disconnected by Discord (close code 4014)" {
		t.Fatalf("disconnect event %+v", e)
	}
	h.waitState(StateIdle)
	st := h.p.Status()
	if st.Current == nil || st.Current.ID != "a" || len(st.Queue) != 1 || st.Position != time.Second {
		t.Fatalf("after kick %+v: the queue and position should wait for a rejoin", st)
	}
	// Rejoining resumes the track where it was.
	h.join()
	deadline := time.Now().Add(waitFor)
	for {
		opens := h.eng.Opens()
		if last := opens[len(opens)-1]; last.id == "a" && len(opens) > 1 {
			if last.seek != time.Second {
				t.Fatalf("rejoin reopened at %v, want 1s", last.seek)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reopen after rejoin: %+v", opens)
		}
		waitTick()
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	h.p.Enqueue(h.eng.track("a", 1000), h.eng.track("b", 10), h.eng.track("c", 10))
	h.p.SetLoop(store.LoopQueue)
	h.p.SetVolume(320)
	h.p.SetEqualizer([15]float64{0: 0.5, 14: -3})
	h.p.SetTextChannel("text1")
	h.p.SetVoiceSession("sess1")
	src := h.join().source()
	h.event(EventTrackStart)
	h.pull(src, 100)
	h.p.Pause()
	snap := h.p.Snapshot()
	if snap.Current == nil || snap.Current.ID != "a" || snap.Position != 2*time.Second || !snap.Paused ||
		len(snap.Queue) != 2 || snap.Loop != store.LoopQueue || snap.Volume != 320 || snap.Effects.Equalizer[14] != -0.25 ||
		snap.VoiceChannelID != "vc1" || snap.TextChannelID != "text1" || snap.Schema != store.SnapshotSchema {
		t.Fatalf("snapshot %+v", snap)
	}

	h2 := newHarness(t, nil)
	for _, id := range []string{"a", "b", "c"} {
		h2.eng.track(id, 1000)
	}
	if err := h2.p.Restore(snap); err != nil {
		t.Fatal(err)
	}
	snap2 := h2.p.Snapshot()
	snap2.UpdatedAt, snap.UpdatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(snap, snap2) {
		t.Fatalf("round trip differs:\n%+v\n%+v", snap, snap2)
	}
	if err := h2.p.Restore(store.PlayerSnapshot{Schema: store.SnapshotSchema + 1}); !errors.Is(err, ErrTooNew) && !errors.Is(err, ErrBusy) {
		t.Fatalf("newer schema: %v", err)
	}
	// Joining resumes a at 2 s, paused.
	if err := h2.p.Join(context.Background(), snap.VoiceChannelID); err != nil {
		t.Fatal(err)
	}
	h2.event(EventTrackStart)
	if opens := h2.eng.Opens(); len(opens) != 1 || opens[0].seek != 2*time.Second || opens[0].volume != 320 {
		t.Fatalf("restore opened %+v", opens)
	}
	if st := h2.p.Status(); st.State != StatePaused {
		t.Fatalf("restored state %v", st.State)
	}
	if err := h2.p.Restore(snap); !errors.Is(err, ErrBusy) {
		t.Fatalf("restore into a busy player: %v", err)
	}
}

func TestPersistence(t *testing.T) {
	per := newFakePersister()
	h := newHarness(t, func(c *Config) { c.Persister = per })
	h.p.Enqueue(h.eng.track("a", 100000))
	src := h.join().source()
	h.event(EventTrackStart)
	waitSaved := func(cond func(store.PlayerSnapshot) bool) store.PlayerSnapshot {
		t.Helper()
		deadline := time.After(waitFor)
		for {
			select {
			case <-per.saved:
				if s := per.last(); cond(s) {
					return s
				}
			case <-deadline:
				t.Fatalf("no matching save; last %+v", per.last())
			}
		}
	}
	waitSaved(func(s store.PlayerSnapshot) bool { return s.Current != nil && s.VoiceChannelID == "vc1" })
	h.pull(src, 250) // 5 s of audio
	n := per.count()
	h.clock.Advance(5 * time.Second)
	s := waitSaved(func(s store.PlayerSnapshot) bool { return s.Position == 5*time.Second })
	if per.count() <= n {
		t.Fatalf("checkpoint: %d saves before, %d after", n, per.count())
	}
	per.mu.Lock()
	for i, sn := range per.snaps {
		if sn.Version != int64(i) {
			t.Errorf("save %d carried version %d, want %d (the last stored version)", i, sn.Version, i)
		}
	}
	per.mu.Unlock()
	_ = s
	h.p.SetVolume(50)
	waitSaved(func(s store.PlayerSnapshot) bool { return s.Volume == 50 })
	h.p.Close()
	if last := per.last(); last.Current == nil || last.Position != 5*time.Second {
		t.Fatalf("final save %+v", last)
	}
}

// TestConcurrentCommands runs a pacer pulling frames while many goroutines
// issue commands; run it with -race. Frames within a track never go
// backwards or repeat, whatever the commands do.
func TestConcurrentCommands(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OnEvent = func(Event) {} })
	var ts []store.Track
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		ts = append(ts, h.eng.track(id, 200))
	}
	h.p.Enqueue(ts...)
	src := h.join().source()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	errs := make(chan string, 10)
	go func() { // the pacer
		defer wg.Done()
		last := map[int]int{}
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, ok := src.NextFrame()
			if !ok {
				continue
			}
			tr, seq := decodeFrame(f)
			if prev, seen := last[tr]; seen && seq <= prev && seq != 0 {
				// A repeat only happens through a restart from 0 or a seek backwards; we never seek.
				select {
				case errs <- "frame repeated":
				default:
				}
			}
			last[tr] = seq
		}
	}()
	cmds := []func(i int){
		func(i int) { h.p.Skip() },
		func(i int) { h.p.Pause(); h.p.Resume() },
		func(i int) { h.p.Enqueue(ts[i%len(ts)]) },
		func(i int) { h.p.Shuffle() },
		func(i int) { h.p.Move(1, 2) },
		func(i int) { h.p.Remove(1) },
		func(i int) { h.p.SetLoop([]store.LoopMode{store.LoopOff, store.LoopQueue, store.LoopTrack}[i%3]) },
		func(i int) { h.p.SetVolume(i % 1000) },
		func(i int) { h.p.Status(); h.p.Snapshot() },
		func(i int) { h.p.VoteSkip("u", []Listener{{ID: "u"}, {ID: "v"}}, 0.5) },
		func(i int) { h.p.SetListeners(i % 3) },
	}
	var cw sync.WaitGroup
	for g := 0; g < 8; g++ {
		cw.Add(1)
		go func(g int) {
			defer cw.Done()
			for i := 0; i < 150; i++ {
				cmds[(g+i)%len(cmds)](i)
			}
		}(g)
	}
	cw.Wait()
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	h.p.Close()
	if n := h.eng.unclosed(); n != 0 {
		t.Fatalf("%d streams left open after Close", n)
	}
}

func TestManager(t *testing.T) {
	eng, voice := newFakeEngine(), newFakeVoice()
	m := NewManager(Config{Engine: eng, Voice: voice, Clock: newFakeClock()})
	p1, err := m.Create("g1")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Create("g1"); again != p1 {
		t.Fatal("Create made a second player for a guild")
	}
	if p, ok := m.Get("g1"); !ok || p != p1 || p.GuildID() != "g1" {
		t.Fatal("Get")
	}
	if _, ok := m.Get("g2"); ok {
		t.Fatal("Get invented a player")
	}
	m.Create("g2")
	if m.Len() != 2 {
		t.Fatalf("Len %d", m.Len())
	}
	m.Remove("g2")
	if _, ok := m.Get("g2"); ok || m.Len() != 1 {
		t.Fatal("Remove")
	}
	m.Close()
	if _, err := m.Create("g3"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create after Close: %v", err)
	}
	if _, err := p1.Enqueue(store.Track{ID: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("player after manager Close: %v", err)
	}
}

// sourceOf returns a source playing a stream of n copies of one frame.
func sourceOf(n int) (*source, *fakeStream) {
	s := &fakeStream{num: 1, limit: n, done: make(chan struct{})}
	fr := frameOf(1, 0)
	s.frames = make([][]byte, n)
	for i := range s.frames {
		s.frames[i] = fr
	}
	src := newSource()
	src.cur.Store(&slot{stream: s})
	return src, s
}

func TestFrameSourceAllocs(t *testing.T) {
	src, _ := sourceOf(1 << 16)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := src.NextFrame(); !ok {
			t.Fatal("no frame")
		}
	})
	if allocs != 0 {
		t.Fatalf("NextFrame allocates %v times per frame", allocs)
	}
}

func BenchmarkNextFrame(b *testing.B) {
	src, s := sourceOf(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(1<<20) == 0 {
			s.next.Store(0)
		}
		src.NextFrame()
	}
}

// blockingPersister blocks every Save until released.
type blockingPersister struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingPersister) Save(ctx context.Context, _ store.PlayerSnapshot) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

// TestSlowCollaboratorsBlockNothing holds a Persister.Save and an
// Engine.Open in progress and checks that frames keep flowing and commands
// keep answering meanwhile.
func TestSlowCollaboratorsBlockNothing(t *testing.T) {
	bp := &blockingPersister{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHarness(t, func(c *Config) { c.Persister = bp; c.PreloadAhead = time.Hour })
	a, b := h.eng.track("a", 10000), h.eng.track("b", 10000)
	h.p.Enqueue(a)
	src := h.join().source()
	h.event(EventTrackStart)
	<-bp.entered // a Save is now stuck
	h.eng.spec("b").block = make(chan struct{})
	h.p.Enqueue(b) // the preload of b is now stuck in Open
	for len(h.eng.Opens()) < 2 {
		waitTick()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.pull(src, 100)
		h.p.Pause()
		if _, ok := src.NextFrame(); ok {
			t.Error("frame while paused")
		}
		h.p.Resume()
		h.p.SetVolume(200)
		h.p.Status()
		h.p.Snapshot()
		h.p.Move(1, 1)
		h.pull(src, 100)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("frames or commands blocked behind a slow Save or Open")
	}
	close(h.eng.spec("b").block)
	close(bp.release)
}

func TestSetAutoLeave(t *testing.T) {
	h := newHarness(t, nil)
	conn := h.join()
	h.p.SetAutoLeave(30 * time.Second)
	h.clock.Advance(30 * time.Second)
	h.event(EventAutoLeave)
	waitLeft(t, conn)
}

// TestSkipCancelsHungOpen skips a track whose Open hangs: the open is
// cancelled and the next track plays.
func TestSkipCancelsHungOpen(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.eng.track("a", 100), h.eng.track("b", 100)
	h.eng.spec("a").block = make(chan struct{}) // never released
	h.p.Enqueue(a, b)
	src := h.join().source()
	if id := <-h.eng.opened; id != "a" {
		t.Fatalf("opened %s first", id)
	}
	if _, err := h.p.Skip(); err != nil {
		t.Fatal(err)
	}
	if e := h.event(EventTrackStart); e.Track.ID != "b" {
		t.Fatalf("after skipping a hung open: %+v", e)
	}
	if got := h.pull(src, 1)[0]; got != [2]int{2, 0} {
		t.Fatalf("frame %v", got)
	}
}

func TestLeaveCancelsJoin(t *testing.T) {
	h := newHarness(t, nil)
	h.voice.block = make(chan struct{})
	res := make(chan error, 1)
	go func() { res <- h.p.Join(context.Background(), "vc1") }()
	<-h.voice.joined
	if err := h.p.Leave(); err != nil {
		t.Fatalf("leave while joining: %v", err)
	}
	close(h.voice.block)
	if err := <-res; !errors.Is(err, ErrJoinCanceled) {
		t.Fatalf("join after leave: %v", err)
	}
	if c := h.voice.last(); c == nil || !c.left.Load() {
		t.Fatal("the late connection was not left")
	}
}

// TestGaplessUnknownTrackDuration: a track resolved without a duration is
// still preloaded when its stream knows its length.
func TestGaplessUnknownTrackDuration(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.eng.track("a", 20), h.eng.track("b", 20)
	a.Duration = 0
	h.p.Enqueue(a, b)
	src := h.join().source()
	h.event(EventTrackStart)
	h.preloaded()
	got := h.pull(src, 40)
	if got[19] != [2]int{1, 19} || got[20] != [2]int{2, 0} {
		t.Fatalf("switch frames %v %v", got[19], got[20])
	}
}

// TestMoveChannel joins another channel while playing: the old connection
// is left and the track resumes where it was in the new one.
func TestMoveChannel(t *testing.T) {
	h := newHarness(t, nil)
	h.p.Enqueue(h.eng.track("a", 1000))
	old := h.join()
	h.event(EventTrackStart)
	h.pull(old.source(), 50)
	if err := h.p.Join(context.Background(), "vc2"); err != nil {
		t.Fatal(err)
	}
	if !old.left.Load() {
		t.Fatal("old connection not left")
	}
	nc := h.voice.last()
	if nc == old || nc.channel != "vc2" || nc.source() == nil {
		t.Fatalf("new connection %+v", nc)
	}
	if f := h.nextFrame(nc.source()); f != [2]int{1, 50} {
		t.Fatalf("after the move frame %v, want [1 50]", f)
	}
	if st := h.p.Status(); st.VoiceChannelID != "vc2" || st.State != StatePlaying {
		t.Fatalf("status after move %+v", st)
	}
	h.noEvent() // the same track is not announced again
}

// checkpointPersister also records position-only checkpoints.
type checkpointPersister struct {
	*fakePersister
	mu    sync.Mutex
	ckpts []time.Duration
	ck    chan struct{}
}

func (c *checkpointPersister) Checkpoint(_ context.Context, guildID string, pos time.Duration) error {
	c.mu.Lock()
	c.ckpts = append(c.ckpts, pos)
	c.mu.Unlock()
	c.ck <- struct{}{}
	return nil
}

func TestCheckpointer(t *testing.T) {
	per := &checkpointPersister{fakePersister: newFakePersister(), ck: make(chan struct{}, 100)}
	h := newHarness(t, func(c *Config) { c.Persister = per })
	h.p.Enqueue(h.eng.track("a", 100000))
	src := h.join().source()
	h.event(EventTrackStart)
	// Wait until the start of playback is fully saved.
	deadline := time.After(waitFor)
	for per.count() == 0 || per.last().Current == nil || per.last().VoiceChannelID == "" {
		select {
		case <-per.saved:
		case <-deadline:
			t.Fatal("no full save at start")
		}
	}
	h.pull(src, 500) // 10 s
	deadline = time.After(waitFor)
	for {
		// The control loop may not have armed its checkpoint timer yet when
		// the clock first moves on: move it again until a checkpoint comes.
		h.clock.Advance(5 * time.Second)
		select {
		case <-per.ck:
		case <-time.After(50 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("no checkpoint at 10s")
		}
		per.mu.Lock()
		got := per.ckpts[len(per.ckpts)-1]
		per.mu.Unlock()
		if got == 10*time.Second {
			break
		}
	}
}
