package player

import (
	"errors"
	"fmt"

	"github.com/quaverbot/quaver/store"
)

// Queue errors. Messages are written for users.
var (
	ErrQueueFull   = errors.New("the queue is full")
	ErrQueueEmpty  = errors.New("the queue is empty")
	ErrBadPosition = errors.New("there is no track at that position")
)

// entry is a queued track with a key unique within one player, so that the
// gapless switch can tell which queued item the audio moved to.
type entry struct {
	key   uint64
	track store.Track
}

// queue is the current track, the upcoming tracks and the history, with
// the loop mode deciding what comes next. Positions are 0-based. It is not
// safe for concurrent use (the Player guards it).
type queue struct {
	current      *entry
	upcoming     []entry
	history      []store.Track
	loop         store.LoopMode
	nextKey      uint64
	maxLen       int
	historyLimit int
}

func newQueue(maxLen, historyLimit int) queue {
	return queue{loop: store.LoopOff, maxLen: maxLen, historyLimit: historyLimit}
}

func (q *queue) newEntry(t store.Track) entry {
	q.nextKey++
	return entry{key: q.nextKey, track: t}
}

// add appends tracks and returns the position of the first; it adds none
// when they do not all fit.
func (q *queue) add(ts ...store.Track) (int, error) {
	if q.maxLen > 0 && len(q.upcoming)+len(ts) > q.maxLen {
		return 0, fmt.Errorf("%w (at most %d tracks; %d are queued)", ErrQueueFull, q.maxLen, len(q.upcoming))
	}
	pos := len(q.upcoming)
	for _, t := range ts {
		q.upcoming = append(q.upcoming, q.newEntry(t))
	}
	return pos, nil
}

func (q *queue) checkPos(i int) error {
	if len(q.upcoming) == 0 {
		return ErrQueueEmpty
	}
	if i < 0 || i >= len(q.upcoming) {
		return fmt.Errorf("%w: %d (the queue has %d)", ErrBadPosition, i+1, len(q.upcoming))
	}
	return nil
}

func (q *queue) remove(i int) (store.Track, error) {
	if err := q.checkPos(i); err != nil {
		return store.Track{}, err
	}
	t := q.upcoming[i].track
	q.upcoming = append(q.upcoming[:i], q.upcoming[i+1:]...)
	return t, nil
}

func (q *queue) move(from, to int) error {
	if err := q.checkPos(from); err != nil {
		return err
	}
	if err := q.checkPos(to); err != nil {
		return err
	}
	e := q.upcoming[from]
	if from < to {
		copy(q.upcoming[from:to], q.upcoming[from+1:to+1])
	} else {
		copy(q.upcoming[to+1:from+1], q.upcoming[to:from])
	}
	q.upcoming[to] = e
	return nil
}

func (q *queue) clear() int {
	n := len(q.upcoming)
	q.upcoming = q.upcoming[:0]
	return n
}

// shuffle permutes the upcoming tracks (Fisher–Yates); intn(n) returns a
// uniform integer in [0, n).
func (q *queue) shuffle(intn func(int) int) {
	for i := len(q.upcoming) - 1; i > 0; i-- {
		j := intn(i + 1)
		q.upcoming[i], q.upcoming[j] = q.upcoming[j], q.upcoming[i]
	}
}

// skipTo drops the tracks before position i (to the end of the queue when
// looping the queue), so that the next advance plays track i.
func (q *queue) skipTo(i int) error {
	if err := q.checkPos(i); err != nil {
		return err
	}
	skipped := append([]entry(nil), q.upcoming[:i]...)
	q.upcoming = append(q.upcoming[:0], q.upcoming[i:]...)
	if q.loop == store.LoopQueue {
		q.upcoming = append(q.upcoming, skipped...)
	} else {
		for _, e := range skipped {
			q.pushHistory(e.track)
		}
	}
	return nil
}

// peek returns what advance(natural) would make current, without changing anything.
func (q *queue) peek(natural bool) (entry, bool) {
	if natural && q.loop == store.LoopTrack && q.current != nil {
		return *q.current, true
	}
	if len(q.upcoming) > 0 {
		return q.upcoming[0], true
	}
	if q.loop == store.LoopQueue && q.current != nil {
		return *q.current, true
	}
	return entry{}, false
}

// advance moves to the next track: natural is true at the end of a track
// (looping a track repeats it) and false for a skip (which leaves it).
// The finished track goes to the history, and back to the end of the queue
// when looping the queue. It returns false when nothing is left.
func (q *queue) advance(natural bool) (entry, bool) {
	if natural && q.loop == store.LoopTrack && q.current != nil {
		return *q.current, true
	}
	q.retire()
	q.current = nil
	if len(q.upcoming) == 0 {
		return entry{}, false
	}
	e := q.upcoming[0]
	q.upcoming = append(q.upcoming[:0], q.upcoming[1:]...)
	q.current = &e
	return e, true
}

// advanceTo records that playback moved on to e by itself (the gapless
// switch to a preloaded track). It matches advance(true) when e is what
// peek(true) says; otherwise the queue changed after the preload, and e
// becomes current wherever it was.
func (q *queue) advanceTo(e entry) {
	if p, ok := q.peek(true); ok && p.key == e.key {
		q.advance(true)
		return
	}
	q.retire()
	for i := range q.upcoming {
		if q.upcoming[i].key == e.key {
			q.upcoming = append(q.upcoming[:i], q.upcoming[i+1:]...)
			break
		}
	}
	q.current = &e
}

// retire moves the current track to the history, and back to the end of
// the queue when looping the queue; the caller replaces current.
func (q *queue) retire() {
	if q.current == nil {
		return
	}
	q.pushHistory(q.current.track)
	if q.loop == store.LoopQueue {
		q.upcoming = append(q.upcoming, *q.current)
	}
}

func (q *queue) pushHistory(t store.Track) {
	if q.historyLimit <= 0 {
		return
	}
	if len(q.history) >= q.historyLimit {
		q.history = append(q.history[:0], q.history[len(q.history)-q.historyLimit+1:]...)
	}
	q.history = append(q.history, t)
}

func (q *queue) tracks() []store.Track {
	out := make([]store.Track, len(q.upcoming))
	for i, e := range q.upcoming {
		out[i] = e.track
	}
	return out
}
