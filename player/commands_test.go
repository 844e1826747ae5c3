package player

import (
	"errors"
	"testing"
	"time"

	"github.com/quaverbot/quaver/store"
)

// nextFrame waits for the next frame src gives (the control loop may still
// be opening a stream) and returns its (track, frame) numbers.
func (h *harness) nextFrame(src FrameSource) [2]int {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if f, ok := src.NextFrame(); ok {
			tr, seq := decodeFrame(f)
			return [2]int{tr, seq}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no frame within %v", waitFor)
		}
		waitTick()
	}
}

// playing enqueues tr, joins, and pulls the first n frames of it.
func (h *harness) playing(tr store.Track, n int) FrameSource {
	h.t.Helper()
	h.p.Enqueue(tr)
	src := h.join().source()
	h.event(EventTrackStart)
	h.pull(src, n)
	return src
}

// waitSaved waits until per has saved a snapshot for which ok holds.
func waitSaved(t *testing.T, per *fakePersister, ok func(store.PlayerSnapshot) bool) store.PlayerSnapshot {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if per.count() > 0 {
			if s := per.last(); ok(s) {
				return s
			}
		}
		select {
		case <-per.saved:
		case <-deadline:
			t.Fatalf("no matching save within %v", waitFor)
		}
	}
}

// TestReplay checks what a listener hears after /replay: the current track
// from its first frame, whatever state the player is in.
func TestReplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare brings the player into the state /replay is used in and
		// returns where frames are pulled from afterwards (nil: none).
		prepare func(h *harness) FrameSource
		wantErr error
		// then checks what follows the replay.
		then func(h *harness, src FrameSource)
	}{{
		name:    "playing: the track restarts at its first frame without reopening",
		prepare: func(h *harness) FrameSource { return h.playing(h.eng.track("a", 1000), 50) },
		then: func(h *harness, src FrameSource) {
			if got := h.pull(src, 3); got[0] != [2]int{1, 0} || got[2] != [2]int{1, 2} {
				h.t.Fatalf("after /replay frames %v, want track 1 from frame 0", got)
			}
			if n := len(h.eng.Opens()); n != 1 {
				h.t.Fatalf("%d opens: a seekable track is not reopened", n)
			}
			if st := h.p.Status(); st.Position != 3*20*time.Millisecond || st.State != StatePlaying {
				h.t.Fatalf("status after /replay %+v", st)
			}
			h.noEvent() // the same track is not announced again
		},
	}, {
		name: "a stream that cannot seek is reopened at the start",
		prepare: func(h *harness) FrameSource {
			a := h.eng.track("a", 1000)
			h.eng.spec("a").seekErr = errors.New("not seekable")
			return h.playing(a, 50)
		},
		then: func(h *harness, src FrameSource) {
			old := h.currentStream()
			deadline := time.Now().Add(waitFor)
			for h.p.src.cur.Load() == nil || h.currentStream() == old {
				if time.Now().After(deadline) {
					h.t.Fatal("the track was not reopened")
				}
				waitTick()
			}
			if f := h.nextFrame(src); f != [2]int{1, 0} {
				h.t.Fatalf("first frame of the reopened track %v, want [1 0]", f)
			}
			if opens := h.eng.Opens(); len(opens) != 2 || opens[1].seek != 0 {
				h.t.Fatalf("opens %+v, want a reopen at 0", opens)
			}
			h.noEvent()
		},
	}, {
		name: "a stream that cannot seek ends while it is being reopened",
		prepare: func(h *harness) FrameSource {
			a := h.eng.track("a", 100)
			sp := h.eng.spec("a")
			sp.seekErr = errors.New("not seekable")
			src := h.playing(a, 50)
			h.eng.mu.Lock()
			sp.block = make(chan struct{}) // the reopen waits
			h.eng.mu.Unlock()
			return src
		},
		then: func(h *harness, src FrameSource) {
			<-h.eng.opened // the first open
			<-h.eng.opened // the reopen, now waiting
			h.pull(src, 50)
			if f, ok := src.NextFrame(); ok { // the old stream's end is seen
				h.t.Fatalf("frame %v after the last one", f)
			}
			if st := h.p.Status(); st.Current == nil || st.Current.ID != "a" {
				h.t.Fatalf("the end of the old stream ended the replayed track: %+v", st)
			}
			close(h.eng.spec("a").block)
			if f := h.nextFrame(src); f != [2]int{1, 0} {
				h.t.Fatalf("first frame of the reopened track %v, want [1 0]", f)
			}
			h.noEvent()
		},
	}, {
		name: "paused: stays paused, and resumes from the start",
		prepare: func(h *harness) FrameSource {
			src := h.playing(h.eng.track("a", 1000), 50)
			if err := h.p.Pause(); err != nil {
				h.t.Fatal(err)
			}
			return src
		},
		then: func(h *harness, src FrameSource) {
			if f, ok := src.NextFrame(); ok {
				h.t.Fatalf("frame %v while paused", f)
			}
			if st := h.p.Status().State; st != StatePaused {
				h.t.Fatalf("state %v after /replay while paused", st)
			}
			if err := h.p.Resume(); err != nil {
				h.t.Fatal(err)
			}
			if f := h.nextFrame(src); f != [2]int{1, 0} {
				h.t.Fatalf("first frame after resuming %v, want [1 0]", f)
			}
		},
	}, {
		name: "disconnected: the rejoin plays from the start, not where it stopped",
		prepare: func(h *harness) FrameSource {
			h.p.Enqueue(h.eng.track("a", 1000))
			conn := h.join()
			h.event(EventTrackStart)
			h.pull(conn.source(), 50)
			conn.kick(errors.New("kicked"))
			h.event(EventDisconnected)
			h.waitState(StateIdle)
			return nil
		},
		then: func(h *harness, _ FrameSource) {
			src := h.join().source()
			if f := h.nextFrame(src); f != [2]int{1, 0} {
				h.t.Fatalf("first frame after the rejoin %v, want [1 0]", f)
			}
		},
	}, {
		name:    "nothing playing",
		prepare: func(h *harness) FrameSource { h.join(); return nil },
		wantErr: ErrNothingPlaying,
	}, {
		name: "the player has shut down",
		prepare: func(h *harness) FrameSource {
			h.p.Enqueue(h.eng.track("a", 1000))
			h.join()
			h.event(EventTrackStart)
			h.p.Close()
			return nil
		},
		wantErr: ErrClosed,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			src := tc.prepare(h)
			err := h.p.Replay()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Replay: %v, want %v", err, tc.wantErr)
			}
			if tc.then != nil {
				tc.then(h, src)
			}
		})
	}
}

// TestClear checks /clear: the upcoming tracks go, the current one plays
// on, and nothing that was queued (or preloaded) plays afterwards.
func TestClear(t *testing.T) {
	for _, tc := range []struct {
		name    string
		loop    store.LoopMode
		queued  int // tracks queued after the current one
		preload bool
		wantN   int
		wantErr error
		closed  bool
	}{
		{name: "three queued", queued: 3, wantN: 3},
		{name: "one queued and already preloaded", queued: 1, preload: true, wantN: 1},
		{name: "looping the queue: the current track repeats alone", loop: store.LoopQueue, queued: 2, wantN: 2},
		{name: "nothing queued", wantErr: ErrQueueEmpty},
		{name: "the player has shut down", queued: 2, closed: true, wantErr: ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per := newFakePersister()
			h := newHarness(t, func(c *Config) { c.Persister = per })
			const curFrames = 20
			tracks := []store.Track{h.eng.track("cur", curFrames)}
			for i := range tc.queued {
				tracks = append(tracks, h.eng.track(string(rune('a'+i)), 10))
			}
			if tc.loop != "" {
				if err := h.p.SetLoop(tc.loop); err != nil {
					t.Fatal(err)
				}
			}
			h.p.Enqueue(tracks...)
			src := h.join().source()
			h.event(EventTrackStart)
			if tc.preload {
				h.preloaded()
			}
			h.pull(src, 5)
			if tc.closed {
				h.p.Close()
			}
			n, err := h.p.Clear()
			if !errors.Is(err, tc.wantErr) || n != tc.wantN {
				t.Fatalf("Clear: %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			if tc.closed {
				return
			}
			st := h.p.Status()
			if len(st.Queue) != 0 || st.Current == nil || st.Current.ID != "cur" || st.State != StatePlaying {
				t.Fatalf("status after /clear %+v", st)
			}
			if tc.wantErr == nil {
				waitSaved(t, per, func(s store.PlayerSnapshot) bool { return len(s.Queue) == 0 && s.Current != nil })
			}
			// The current track plays on where it was, to its end.
			got := h.pull(src, curFrames-5)
			if got[0] != [2]int{1, 5} || got[len(got)-1] != [2]int{1, curFrames - 1} {
				t.Fatalf("current track after /clear: %v", got)
			}
			if tc.loop == store.LoopQueue {
				// Only the current track is left to loop.
				for range 2 {
					if f := h.nextFrame(src); f != [2]int{1, 0} {
						t.Fatalf("after the end of the looped queue frame %v, want the current track again", f)
					}
					h.pull(src, curFrames-1)
				}
				return
			}
			if f, ok := src.NextFrame(); ok { // the end of the current track
				t.Fatalf("frame %v after the current track: a cleared track played", f)
			}
			h.event(EventQueueEnd)
			if f, ok := src.NextFrame(); ok {
				t.Fatalf("frame %v after the queue ended: a cleared track played", f)
			}
			deadline := time.Now().Add(waitFor)
			for h.eng.unclosed() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d streams left open after the queue ended", h.eng.unclosed())
				}
				waitTick()
			}
		})
	}
}

// TestModeratorMoveSaved: when the bot is moved to another channel by
// someone else, the snapshot names the new channel at once (no checkpoint
// needed: the fake clock never advances), so a restart rejoins it.
func TestModeratorMoveSaved(t *testing.T) {
	for _, tc := range []struct {
		name      string
		connected bool
		to        string
		want      string
	}{
		{name: "moved while playing", connected: true, to: "vc2", want: "vc2"},
		{name: "an empty channel is not a move", connected: true, to: "", want: "vc1"},
		{name: "not connected: nothing to follow", connected: false, to: "vc2", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per := newFakePersister()
			h := newHarness(t, func(c *Config) { c.Persister = per })
			h.p.Enqueue(h.eng.track("a", 1000))
			if tc.connected {
				h.join()
				h.event(EventTrackStart)
				waitSaved(t, per, func(s store.PlayerSnapshot) bool { return s.VoiceChannelID == "vc1" })
			}
			h.p.SetVoiceChannel(tc.to)
			if got := h.p.Status().VoiceChannelID; got != tc.want {
				t.Fatalf("status names channel %q, want %q", got, tc.want)
			}
			if tc.want != "" {
				waitSaved(t, per, func(s store.PlayerSnapshot) bool { return s.VoiceChannelID == tc.want })
			}
			if tc.connected {
				// A later save (the final one) keeps the channel.
				h.p.Close()
				if got := per.last().VoiceChannelID; got != tc.want {
					t.Fatalf("final snapshot names channel %q, want %q", got, tc.want)
				}
			}
		})
	}
}
