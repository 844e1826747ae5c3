package player

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/quaverbot/quaver/store"
)

func tr(id string) store.Track { return store.Track{ID: id, Title: id} }

// mkQueue builds a queue with current cur ("" = none) and upcoming ids.
func mkQueue(loop store.LoopMode, cur string, ids ...string) queue {
	q := newQueue(10, 3)
	q.loop = loop
	if cur != "" {
		e := q.newEntry(tr(cur))
		q.current = &e
	}
	for _, id := range ids {
		q.add(tr(id))
	}
	return q
}

func ids(q *queue) string {
	var b []string
	for _, e := range q.upcoming {
		b = append(b, e.track.ID)
	}
	return strings.Join(b, ",")
}

func cur(q *queue) string {
	if q.current == nil {
		return "-"
	}
	return q.current.track.ID
}

func hist(q *queue) string {
	var b []string
	for _, t := range q.history {
		b = append(b, t.ID)
	}
	return strings.Join(b, ",")
}

func TestQueueAdvance(t *testing.T) {
	tests := []struct {
		name    string
		loop    store.LoopMode
		cur     string
		up      []string
		natural bool
		// after one advance:
		wantOK   bool
		wantCur  string
		wantUp   string
		wantHist string
	}{
		{"off natural", store.LoopOff, "a", []string{"b", "c"}, true, true, "b", "c", "a"},
		{"off skip", store.LoopOff, "a", []string{"b"}, false, true, "b", "", "a"},
		{"off last track ends", store.LoopOff, "a", nil, true, false, "-", "", "a"},
		{"off from nothing", store.LoopOff, "", []string{"b"}, true, true, "b", "", ""},
		{"track natural repeats", store.LoopTrack, "a", []string{"b"}, true, true, "a", "b", ""},
		{"track skip leaves", store.LoopTrack, "a", []string{"b"}, false, true, "b", "", "a"},
		{"track skip last", store.LoopTrack, "a", nil, false, false, "-", "", "a"},
		{"queue natural rotates", store.LoopQueue, "a", []string{"b", "c"}, true, true, "b", "c,a", "a"},
		{"queue skip rotates", store.LoopQueue, "a", []string{"b"}, false, true, "b", "a", "a"},
		{"queue single track repeats", store.LoopQueue, "a", nil, true, true, "a", "", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := mkQueue(tt.loop, tt.cur, tt.up...)
			peek, peekOK := q.peek(tt.natural)
			e, ok := q.advance(tt.natural)
			if ok != tt.wantOK || cur(&q) != tt.wantCur || ids(&q) != tt.wantUp || hist(&q) != tt.wantHist {
				t.Fatalf("advance: ok %v cur %s up %q hist %q; want %v %s %q %q", ok, cur(&q), ids(&q), hist(&q), tt.wantOK, tt.wantCur, tt.wantUp, tt.wantHist)
			}
			if peekOK != ok || (ok && peek.key != e.key) {
				t.Fatalf("peek said %v %+v, advance gave %v %+v", peekOK, peek, ok, e)
			}
		})
	}
}

func TestQueueLoopQueueCycles(t *testing.T) {
	q := mkQueue(store.LoopQueue, "a", "b", "c")
	var order []string
	for i := 0; i < 7; i++ {
		e, ok := q.advance(true)
		if !ok {
			t.Fatal("loop queue ran out")
		}
		order = append(order, e.track.ID)
	}
	if got := strings.Join(order, ""); got != "bcabcab" {
		t.Fatalf("loop queue order %q, want bcabcab", got)
	}
	if hist(&q) != "b,c,a" {
		t.Fatalf("history %q capped at 3 newest, want b,c,a", hist(&q))
	}
}

func TestQueueEdits(t *testing.T) {
	tests := []struct {
		name    string
		loop    store.LoopMode
		op      func(q *queue) error
		wantUp  string
		wantErr error
		hist    string
	}{
		{"remove middle", store.LoopOff, func(q *queue) error { _, err := q.remove(1); return err }, "a,c,d", nil, ""},
		{"remove first", store.LoopOff, func(q *queue) error { _, err := q.remove(0); return err }, "b,c,d", nil, ""},
		{"remove last", store.LoopOff, func(q *queue) error { _, err := q.remove(3); return err }, "a,b,c", nil, ""},
		{"remove out of range", store.LoopOff, func(q *queue) error { _, err := q.remove(4); return err }, "a,b,c,d", ErrBadPosition, ""},
		{"remove negative", store.LoopOff, func(q *queue) error { _, err := q.remove(-1); return err }, "a,b,c,d", ErrBadPosition, ""},
		{"move forward", store.LoopOff, func(q *queue) error { return q.move(0, 2) }, "b,c,a,d", nil, ""},
		{"move backward", store.LoopOff, func(q *queue) error { return q.move(3, 0) }, "d,a,b,c", nil, ""},
		{"move same", store.LoopOff, func(q *queue) error { return q.move(1, 1) }, "a,b,c,d", nil, ""},
		{"move bad target", store.LoopOff, func(q *queue) error { return q.move(1, 9) }, "a,b,c,d", ErrBadPosition, ""},
		{"clear", store.LoopOff, func(q *queue) error { q.clear(); return nil }, "", nil, ""},
		{"skipto drops earlier", store.LoopOff, func(q *queue) error { return q.skipTo(2) }, "c,d", nil, "a,b"},
		{"skipto with loop queue keeps earlier", store.LoopQueue, func(q *queue) error { return q.skipTo(2) }, "c,d,a,b", nil, ""},
		{"skipto bad", store.LoopOff, func(q *queue) error { return q.skipTo(7) }, "a,b,c,d", ErrBadPosition, ""},
		{"add over max", store.LoopOff, func(q *queue) error {
			_, err := q.add(tr("1"), tr("2"), tr("3"), tr("4"), tr("5"), tr("6"), tr("7"))
			return err
		}, "a,b,c,d", ErrQueueFull, ""},
		{"shuffle reverse-rotation", store.LoopOff, func(q *queue) error { q.shuffle(func(n int) int { return 0 }); return nil }, "b,c,d,a", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := mkQueue(tt.loop, "x", "a", "b", "c", "d")
			err := tt.op(&q)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if ids(&q) != tt.wantUp || hist(&q) != tt.hist || cur(&q) != "x" {
				t.Fatalf("queue %q hist %q cur %s, want %q %q x", ids(&q), hist(&q), cur(&q), tt.wantUp, tt.hist)
			}
		})
	}
	empty := mkQueue(store.LoopOff, "x")
	if _, err := empty.remove(0); !errors.Is(err, ErrQueueEmpty) {
		t.Fatalf("remove on empty queue: %v", err)
	}
}

func TestQueueShuffleIsPermutation(t *testing.T) {
	q := mkQueue(store.LoopOff, "", "a", "b", "c", "d", "e", "f")
	q.maxLen = 0
	seq := []int{3, 0, 2, 1, 0}
	i := 0
	q.shuffle(func(n int) int { v := seq[i] % n; i++; return v })
	got := strings.Split(ids(&q), ",")
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	if len(got) != 6 || len(seen) != 6 {
		t.Fatalf("shuffle lost or duplicated tracks: %v", got)
	}
	if reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Fatalf("shuffle left the order unchanged")
	}
}

func TestQueueAdvanceToAfterEdit(t *testing.T) {
	// The preloaded "b" started playing, but a command had moved it meanwhile.
	q := mkQueue(store.LoopOff, "a", "c", "b")
	b := q.upcoming[1]
	q.advanceTo(b)
	if cur(&q) != "b" || ids(&q) != "c" || hist(&q) != "a" {
		t.Fatalf("advanceTo: cur %s up %q hist %q", cur(&q), ids(&q), hist(&q))
	}
	// The expected case equals advance(true).
	q2 := mkQueue(store.LoopQueue, "a", "b", "c")
	q2.advanceTo(q2.upcoming[0])
	if cur(&q2) != "b" || ids(&q2) != "c,a" {
		t.Fatalf("advanceTo plan: cur %s up %q", cur(&q2), ids(&q2))
	}
}

func TestVotesNeeded(t *testing.T) {
	tests := []struct {
		humans int
		ratio  float64
		want   int
	}{
		{0, 0.5, 1}, {1, 0.5, 1}, {2, 0.5, 1}, {3, 0.5, 2}, {4, 0.5, 2}, {5, 0.5, 3},
		{10, 0.3, 3}, {10, 0.31, 4}, {3, 1, 3}, {7, 0.75, 6}, {4, 0, 2}, {4, -1, 2}, {4, 2, 2}, {100, 0.01, 1},
	}
	for _, tt := range tests {
		if got := VotesNeeded(tt.humans, tt.ratio); got != tt.want {
			t.Errorf("VotesNeeded(%d, %v) = %d, want %d", tt.humans, tt.ratio, got, tt.want)
		}
	}
}
