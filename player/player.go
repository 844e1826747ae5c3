package player

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverbot/quaver/store"
)

// State is where a player is in its life cycle.
type State int

// Player states.
const (
	// StateIdle: nothing playing (connected or not).
	StateIdle State = iota
	// StateConnecting: joining a voice channel.
	StateConnecting
	// StatePlaying: connected with a current track.
	StatePlaying
	// StatePaused: connected with a current track the users paused.
	StatePaused
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StatePlaying:
		return "playing"
	case StatePaused:
		return "paused"
	}
	return "unknown"
}

// Errors Player methods return. Messages are written for users.
var (
	ErrClosed         = errors.New("the player has shut down")
	ErrNothingPlaying = errors.New("nothing is playing")
	ErrAlreadyPaused  = errors.New("playback is already paused")
	ErrNotPaused      = errors.New("playback is not paused")
	ErrNotConnected   = errors.New("the bot is not in a voice channel")
	ErrConnecting     = errors.New("the bot is still joining a voice channel; try again in a moment")
	ErrJoinCanceled   = errors.New("joining the voice channel was cancelled: the bot was told to leave")
	ErrVolumeRange    = errors.New("volume must be between 0 and 1000 %")
	ErrSeekRange      = errors.New("that position is past the end of the track")
	ErrLiveSeek       = errors.New("live streams cannot be seeked")
	ErrBadLoopMode    = errors.New("loop mode must be off, track or queue")
	ErrNotListener    = errors.New("you must be in the bot's voice channel to vote")
	ErrTooNew         = errors.New("the saved player state was written by a newer version of the bot")
	ErrBusy           = errors.New("the player is busy; stop it before restoring a saved state")
	errNilStream      = errors.New("player: the engine returned no stream")
)

// EventType says what happened.
type EventType int

// Events announced through Config.OnEvent.
const (
	// EventTrackStart: a new track started (Track). Repeats of a looped track are not announced.
	EventTrackStart EventType = iota + 1
	// EventTrackFailed: a track failed twice (or could not be opened twice) and was skipped (Track, Err).
	EventTrackFailed
	// EventQueueEnd: the last track ended and the queue is empty.
	EventQueueEnd
	// EventAutoLeave: the bot left after being alone or idle for Config.AutoLeave (Reason: "alone" or "idle").
	EventAutoLeave
	// EventDisconnected: the voice connection stopped without Leave (kick, error; Err says why).
	EventDisconnected
	// EventStopped: playback stopped because too many tracks failed in a row (Err).
	EventStopped
)

// Event is one announcement.
type Event struct {
	Type    EventType
	GuildID string
	// TextChannelID is where the player was asked to announce.
	TextChannelID string
	Track         store.Track
	Err           error
	Reason        string
}

// Config configures a Player. Zero fields take DefaultConfig values.
type Config struct {
	GuildID string
	Engine  Engine
	Voice   Voice
	// Persister receives snapshots; nil disables persistence.
	Persister Persister
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// OnEvent receives announcements. Calls for one player are made one at a
	// time, in order, on that player's own event goroutine: the callback may
	// block (send a Discord message) without delaying playback or commands,
	// but callbacks of different players run concurrently. If it falls more
	// than EventBuffer events behind, newer events are dropped and logged.
	// Nil discards events.
	OnEvent func(Event)
	// AutoLeave is how long the bot stays connected while alone (no listeners
	// but bots) or idle (nothing playing) (3 min). Paused with listeners is
	// neither.
	AutoLeave time.Duration
	// CheckpointEvery is how often the position is persisted while playing (5 s).
	CheckpointEvery time.Duration
	// PreloadAhead is how long before a track's end the next one is opened (15 s).
	PreloadAhead time.Duration
	// OpenTimeout bounds Engine.Open (20 s); SaveTimeout bounds Persister.Save (5 s).
	OpenTimeout time.Duration
	SaveTimeout time.Duration
	// MaxQueue caps the queue (1000); HistoryLimit the history (50).
	MaxQueue     int
	HistoryLimit int
	// MaxFailStreak stops playback after this many tracks fail in a row (5).
	MaxFailStreak int
	// DefaultVolume in percent (100).
	DefaultVolume int
	// EventBuffer is how many undelivered events are kept (64).
	EventBuffer int
	// Intn returns a uniform random integer in [0, n) for shuffle; nil means math/rand/v2.
	Intn func(n int) int
	// Logger; nil means slog.Default().
	Logger *slog.Logger

	// preloaded, when set (tests), is called after a next track was parked for the gapless switch.
	preloaded func()
}

// DefaultConfig returns the values used for zero Config fields.
func DefaultConfig() Config {
	return Config{
		AutoLeave:       3 * time.Minute,
		CheckpointEvery: 5 * time.Second,
		PreloadAhead:    15 * time.Second,
		OpenTimeout:     20 * time.Second,
		SaveTimeout:     5 * time.Second,
		MaxQueue:        1000,
		HistoryLimit:    50,
		MaxFailStreak:   5,
		DefaultVolume:   100,
		EventBuffer:     64,
	}
}

func (c *Config) fill() {
	d := DefaultConfig()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur(&c.AutoLeave, d.AutoLeave)
	setDur(&c.CheckpointEvery, d.CheckpointEvery)
	setDur(&c.PreloadAhead, d.PreloadAhead)
	setDur(&c.OpenTimeout, d.OpenTimeout)
	setDur(&c.SaveTimeout, d.SaveTimeout)
	setInt(&c.MaxQueue, d.MaxQueue)
	setInt(&c.HistoryLimit, d.HistoryLimit)
	setInt(&c.MaxFailStreak, d.MaxFailStreak)
	setInt(&c.EventBuffer, d.EventBuffer)
	if c.DefaultVolume < 0 || c.DefaultVolume > 1000 || c.DefaultVolume == 0 {
		c.DefaultVolume = d.DefaultVolume
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Intn == nil {
		c.Intn = rand.IntN
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Player is one guild's player. All methods are safe for concurrent use.
//
// Locking: mu guards the state and is never held during I/O (Engine.Open,
// Voice.Join, Stream.Seek/Close, VoiceConn.Leave, Persister.Save, event
// callbacks). The frame path (source.NextFrame) never takes mu. Work that
// needs I/O is done outside mu and re-checked against generation counters
// when mu is taken again, so the newest command wins.
type Player struct {
	cfg Config
	log *slog.Logger
	src *source

	mu        sync.Mutex
	closed    bool
	q         queue
	paused    bool
	volume    int
	eq        [15]float64
	conn      VoiceConn
	joining   bool
	joinGen   uint64
	voiceID   string
	textID    string
	sessionID string
	listeners int
	listenKnw bool
	votes     map[string]struct{}

	genSeq       uint64
	wantGen      uint64 // bumped whenever the current entry must be (re)opened
	wantSeek     time.Duration
	loadedGen    uint64 // gen of the stream in src.cur
	announcedKey uint64
	retried      bool
	failStreak   int
	cancelOpen   context.CancelFunc
	planGen      uint64 // bumped whenever what plays next may have changed
	preloadedGen uint64 // planGen the preloaded stream was opened for

	idleSince  time.Time
	aloneSince time.Time
	lastSave   time.Time
	version    int64       // last version this player stored (see Persister)
	dirty      atomic.Bool // a change beyond the position awaits saving
	dropped    int

	spare   []srcEvent
	toClose []Stream // streams dropped under the lock, closed after it

	kick        chan struct{}
	persistKick chan struct{}
	events      chan Event
	closing     chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// New starts a player for cfg.GuildID. Close stops it.
func New(cfg Config) *Player {
	cfg.fill()
	p := &Player{
		cfg:         cfg,
		log:         cfg.Logger.With("guild", cfg.GuildID),
		src:         newSource(),
		q:           newQueue(cfg.MaxQueue, cfg.HistoryLimit),
		volume:      cfg.DefaultVolume,
		votes:       map[string]struct{}{},
		kick:        make(chan struct{}, 1),
		persistKick: make(chan struct{}, 1),
		closing:     make(chan struct{}),
		spare:       make([]srcEvent, 0, 8),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.run()
	if cfg.Persister != nil {
		p.wg.Add(1)
		go p.persistLoop()
	}
	if cfg.OnEvent != nil {
		p.events = make(chan Event, cfg.EventBuffer)
		p.wg.Add(1)
		go p.eventLoop()
	}
	return p
}

// GuildID returns the guild the player belongs to.
func (p *Player) GuildID() string { return p.cfg.GuildID }

// Source returns the FrameSource the player hands to voice connections.
func (p *Player) Source() FrameSource { return p.src }

// ---- helpers (mu held unless noted) ----

func (p *Player) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Player) changed() {
	if p.cfg.Persister == nil {
		return
	}
	p.dirty.Store(true)
	p.kickPersist()
}

// kickPersist wakes the persist goroutine without marking a change: with
// a Checkpointer only the position is written.
func (p *Player) kickPersist() {
	select {
	case p.persistKick <- struct{}{}:
	default:
	}
}

// emitLocked queues an event for the event goroutine without blocking.
func (p *Player) emitLocked(e Event) {
	if p.events == nil {
		return
	}
	e.GuildID, e.TextChannelID = p.cfg.GuildID, p.textID
	select {
	case p.events <- e:
	default:
		p.dropped++
		p.log.Warn("player: event dropped, the event callback is too slow", "type", e.Type, "dropped", p.dropped)
	}
}

func (p *Player) stateLocked() State {
	switch {
	case p.joining:
		return StateConnecting
	case p.conn == nil || p.q.current == nil:
		return StateIdle
	case p.paused:
		return StatePaused
	}
	return StatePlaying
}

// newCurrentLocked records that the current entry changed: it must be
// opened from seek, votes and retries reset, and what follows replanned.
func (p *Player) newCurrentLocked(seek time.Duration) {
	p.wantGen = p.nextGenLocked()
	p.wantSeek = seek
	p.retried = false
	p.planGen++
	if n := p.src.takeNext(); n != nil {
		// Parked for the old plan; closed by the next syncLocked caller.
		p.toClose = append(p.toClose, n.stream)
	}
	clear(p.votes)
	if p.q.current == nil {
		p.idleSince = p.cfg.Clock.Now()
		p.paused = false
		p.src.paused.Store(false)
	}
	if p.cancelOpen != nil {
		p.cancelOpen()
		p.cancelOpen = nil
	}
}

// detachLocked removes the current and preloaded streams from the frame
// path and returns them for closing outside the lock.
func (p *Player) detachLocked() []Stream {
	var out []Stream
	if s := p.src.swapCur(nil); s != nil {
		out = append(out, s.stream)
	}
	if s := p.src.takeNext(); s != nil {
		out = append(out, s.stream)
	}
	p.loadedGen = 0
	return out
}

// replanLocked drops the preloaded stream because the queue changed.
func (p *Player) replanLocked() []Stream {
	p.planGen++
	if s := p.src.takeNext(); s != nil {
		return []Stream{s.stream}
	}
	return nil
}

// streamOf returns the slot's stream, nil for no slot.
func streamOf(s *slot) Stream {
	if s == nil {
		return nil
	}
	return s.stream
}

func closeAll(ss []Stream) {
	for _, s := range ss {
		s.Close()
	}
}

// unlock releases mu, then closes the streams dropped under it (Close may
// block, so never under mu).
func (p *Player) unlock(closing []Stream) {
	p.mu.Unlock()
	closeAll(closing)
}

// commit ends a command that changed the state: it unlocks (closing the
// dropped streams), wakes the control loop and saves a snapshot.
func (p *Player) commit(closing []Stream) {
	p.unlock(closing)
	p.wake()
	p.changed()
}

// ---- commands ----

// Join connects to a voice channel (moving there when connected elsewhere)
// and starts playing the queue if there is one. It blocks until connected.
func (p *Player) Join(ctx context.Context, channelID string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.joining {
		p.mu.Unlock()
		return ErrConnecting
	}
	if p.conn != nil && p.voiceID == channelID {
		p.mu.Unlock()
		return nil
	}
	p.joining = true
	p.joinGen++
	g := p.joinGen
	old := p.conn
	p.conn = nil
	closing := p.syncLocked()
	if old != nil {
		p.keepPositionLocked()
		closing = append(closing, p.detachLocked()...)
	}
	p.unlock(closing)
	if old != nil {
		old.Leave()
	}

	c, err := p.cfg.Voice.Join(ctx, p.cfg.GuildID, channelID)

	p.mu.Lock()
	p.joining = false
	if err == nil && (g != p.joinGen || p.closed) {
		closed := p.closed
		p.mu.Unlock()
		c.Leave()
		if closed {
			return ErrClosed
		}
		return ErrJoinCanceled
	}
	if err != nil {
		if old != nil {
			p.voiceID = ""
		}
		p.mu.Unlock()
		p.changed()
		return err
	}
	p.conn, p.voiceID = c, channelID
	p.listenKnw = false
	now := p.cfg.Clock.Now()
	p.idleSince, p.aloneSince = now, time.Time{}
	p.mu.Unlock()
	c.SetSource(p.src)
	p.wake()
	p.changed()
	return nil
}

// keepPositionLocked remembers where the current stream is so a reopen
// resumes there.
func (p *Player) keepPositionLocked() {
	if c := p.src.cur.Load(); c != nil && p.q.current != nil && c.entry.key == p.q.current.key {
		p.wantSeek = c.stream.Position()
	}
	p.wantGen = p.nextGenLocked()
}

// Enqueue adds tracks to the queue and starts playing when connected and
// idle. It returns the 1-based queue position of the first track (0 when
// it starts playing at once).
func (p *Player) Enqueue(tracks ...store.Track) (int, error) {
	if len(tracks) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, ErrClosed
	}
	pos, err := p.q.add(tracks...)
	if err != nil {
		p.mu.Unlock()
		return 0, err
	}
	pos++
	var closing []Stream
	if p.q.current == nil {
		p.q.advance(false)
		p.newCurrentLocked(0)
		pos--
	} else {
		closing = p.replanLocked()
	}
	p.commit(closing)
	return pos, nil
}

// Play joins channelID when not connected there, then enqueues tracks.
func (p *Player) Play(ctx context.Context, channelID string, tracks ...store.Track) (int, error) {
	pos, err := p.Enqueue(tracks...)
	if err != nil {
		return 0, err
	}
	if err := p.Join(ctx, channelID); err != nil && !errors.Is(err, ErrConnecting) {
		return pos, err
	}
	return pos, nil
}

// Pause pauses playback: the frame source returns no frames until Resume.
func (p *Player) Pause() error { return p.setPaused(true, ErrAlreadyPaused) }

// Resume resumes paused playback.
func (p *Player) Resume() error { return p.setPaused(false, ErrNotPaused) }

// setPaused pauses or resumes; already is the error when it is so already.
func (p *Player) setPaused(paused bool, already error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.q.current == nil {
		return ErrNothingPlaying
	}
	if p.paused == paused {
		return already
	}
	p.paused = paused
	p.src.paused.Store(paused)
	p.wake()
	p.changed()
	return nil
}

// Skip ends the current track and plays the next (a looped track is left;
// with the queue looped it goes to the end). It returns the skipped track.
func (p *Player) Skip() (store.Track, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return store.Track{}, ErrClosed
	}
	closing := p.syncLocked()
	if p.q.current == nil {
		p.unlock(closing)
		return store.Track{}, ErrNothingPlaying
	}
	skipped := p.q.current.track
	closing = append(closing, p.skipLocked()...)
	p.commit(closing)
	return skipped, nil
}

// skipLocked advances past the current track by command.
func (p *Player) skipLocked() []Stream {
	parked := p.src.takeNext()
	closing := p.detachLocked()
	e, ok := p.q.advance(false)
	p.newCurrentLocked(0)
	if ok && parked != nil && parked.entry.key == e.key && p.conn != nil {
		// The next track is already open: it plays from the next frame on.
		p.wantGen, p.loadedGen = parked.gen, parked.gen
		p.src.swapCur(parked)
		p.announceLocked()
		parked = nil
	}
	if parked != nil {
		closing = append(closing, parked.stream)
	}
	if !ok {
		p.emitLocked(Event{Type: EventQueueEnd})
	}
	return closing
}

// SkipTo plays the track at 1-based queue position pos now.
func (p *Player) SkipTo(pos int) (store.Track, error) {
	p.mu.Lock()
	closing := p.syncLocked()
	if err := p.q.skipTo(pos - 1); err != nil {
		p.unlock(closing)
		return store.Track{}, err
	}
	t := p.q.upcoming[0].track
	closing = append(closing, p.skipLocked()...)
	p.commit(closing)
	return t, nil
}

// Stop stops playback and clears the queue; the bot stays in the channel
// (and leaves after Config.AutoLeave of idleness).
func (p *Player) Stop() error {
	p.mu.Lock()
	closing := p.syncLocked()
	if p.q.current == nil && len(p.q.upcoming) == 0 {
		p.unlock(closing)
		return ErrNothingPlaying
	}
	p.stopLocked()
	closing = append(closing, p.detachLocked()...)
	p.commit(closing)
	return nil
}

func (p *Player) stopLocked() {
	if p.q.current != nil {
		p.q.pushHistory(p.q.current.track)
	}
	p.q.current = nil
	p.q.clear()
	p.newCurrentLocked(0)
}

// Leave stops playback, clears the queue and disconnects.
func (p *Player) Leave() error {
	p.mu.Lock()
	closing := p.syncLocked()
	c := p.conn
	if c == nil && !p.joining {
		p.unlock(closing)
		return ErrNotConnected
	}
	p.conn, p.voiceID, p.joining = nil, "", false
	p.joinGen++
	p.stopLocked()
	closing = append(closing, p.detachLocked()...)
	p.unlock(closing)
	if c != nil {
		c.Leave()
	}
	p.wake()
	p.changed()
	return nil
}

// SetLoop sets the loop mode.
func (p *Player) SetLoop(mode store.LoopMode) error {
	switch mode {
	case store.LoopOff, store.LoopTrack, store.LoopQueue:
	default:
		return ErrBadLoopMode
	}
	p.mu.Lock()
	closing := p.syncLocked()
	p.q.loop = mode
	closing = append(closing, p.replanLocked()...)
	p.commit(closing)
	return nil
}

// Shuffle shuffles the upcoming tracks once.
func (p *Player) Shuffle() error {
	return p.editQueue(func(q *queue) error {
		if len(q.upcoming) == 0 {
			return ErrQueueEmpty
		}
		q.shuffle(p.cfg.Intn)
		return nil
	})
}

// Remove removes the track at 1-based queue position pos.
func (p *Player) Remove(pos int) (store.Track, error) {
	var t store.Track
	err := p.editQueue(func(q *queue) (err error) {
		t, err = q.remove(pos - 1)
		return err
	})
	return t, err
}

// Move moves the track at 1-based position from to position to.
func (p *Player) Move(from, to int) error {
	return p.editQueue(func(q *queue) error { return q.move(from-1, to-1) })
}

// Clear empties the queue (the current track keeps playing) and returns how many tracks were removed.
func (p *Player) Clear() (int, error) {
	n := 0
	err := p.editQueue(func(q *queue) error {
		if len(q.upcoming) == 0 {
			return ErrQueueEmpty
		}
		n = q.clear()
		return nil
	})
	return n, err
}

func (p *Player) editQueue(f func(q *queue) error) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	closing := p.syncLocked()
	if err := f(&p.q); err != nil {
		p.unlock(closing)
		return err
	}
	closing = append(closing, p.replanLocked()...)
	p.commit(closing)
	return nil
}

// Replay restarts the current track from the beginning.
func (p *Player) Replay() error { return p.Seek(context.Background(), 0) }

// Seek moves playback of the current track to pos. When the stream cannot
// seek, the track is reopened at pos.
func (p *Player) Seek(ctx context.Context, pos time.Duration) error {
	if pos < 0 {
		pos = 0
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	closing := p.syncLocked()
	cur := p.q.current
	if cur == nil {
		p.unlock(closing)
		return ErrNothingPlaying
	}
	s := p.src.cur.Load()
	gen := p.wantGen
	dur := cur.track.Duration
	if d, ok := streamOf(s).(Durationer); ok && dur == 0 && s.entry.key == cur.key {
		dur = d.Duration()
	}
	if dur == 0 && pos > 0 {
		p.unlock(closing)
		return ErrLiveSeek
	}
	if dur > 0 && pos >= dur {
		p.unlock(closing)
		return fmt.Errorf("%w (it is %s long)", ErrSeekRange, dur.Round(time.Second))
	}
	p.unlock(closing)

	if s != nil && s.entry.key == cur.key && s.gen == gen {
		if err := s.stream.Seek(pos); err == nil {
			p.changed()
			return nil
		}
	}
	p.mu.Lock()
	if p.wantGen == gen && p.q.current != nil && p.q.current.key == cur.key {
		p.wantGen = p.nextGenLocked()
		p.wantSeek = pos
		if p.cancelOpen != nil {
			p.cancelOpen()
			p.cancelOpen = nil
		}
	}
	p.mu.Unlock()
	p.wake()
	p.changed()
	return ctx.Err()
}

// SetVolume sets the volume in percent (0–1000).
func (p *Player) SetVolume(pct int) error {
	if pct < 0 || pct > 1000 {
		return ErrVolumeRange
	}
	p.setEffect(func() { p.volume = pct }, func(s Stream) { s.SetVolume(pct) })
	return nil
}

// SetEqualizer sets the 15 equalizer band gains, each clamped to −0.25…+1.0.
func (p *Player) SetEqualizer(gains [15]float64) {
	for i, g := range gains {
		gains[i] = min(max(g, -0.25), 1.0)
	}
	p.setEffect(func() { p.eq = gains }, func(s Stream) { s.SetEqualizer(gains) })
}

// setEffect runs set under the lock, then apply on the open streams (the
// current and the preloaded one) outside it, and saves.
func (p *Player) setEffect(set func(), apply func(Stream)) {
	p.mu.Lock()
	set()
	var ss []Stream
	if c := p.src.cur.Load(); c != nil {
		ss = append(ss, c.stream)
	}
	if n := p.src.peekNext(); n != nil {
		ss = append(ss, n.stream)
	}
	p.mu.Unlock()
	for _, s := range ss {
		apply(s)
	}
	p.changed()
}

// SetAutoLeave changes how long the bot stays when alone or idle (a
// guild's /settings); d <= 0 restores the default.
func (p *Player) SetAutoLeave(d time.Duration) {
	if d <= 0 {
		d = DefaultConfig().AutoLeave
	}
	p.mu.Lock()
	p.cfg.AutoLeave = d
	p.mu.Unlock()
	p.wake()
}

// SetTextChannel sets where announcements go (carried in events and snapshots).
func (p *Player) SetTextChannel(id string) { p.setSaved(func() { p.textID = id }) }

// setSaved runs set under the lock and saves.
func (p *Player) setSaved(set func()) {
	p.mu.Lock()
	set()
	p.mu.Unlock()
	p.changed()
}

// SetVoiceChannel records that the bot's voice connection was moved to
// channelID by someone else (a moderator dragging the bot to another
// channel); the connection follows by itself. The new channel is saved at
// once, so that a restart right after the move rejoins it. It does nothing
// while the player is not connected (or still joining).
func (p *Player) SetVoiceChannel(channelID string) {
	p.mu.Lock()
	if p.closed || p.conn == nil || channelID == "" || channelID == p.voiceID {
		p.mu.Unlock()
		return
	}
	p.voiceID = channelID
	p.mu.Unlock()
	p.changed()
}

// SetVoiceSession records the Discord voice session id (kept in snapshots).
func (p *Player) SetVoiceSession(id string) { p.setSaved(func() { p.sessionID = id }) }

// SetListeners tells the player how many people (bots excluded) are in its
// voice channel; zero starts the alone timer.
func (p *Player) SetListeners(humans int) {
	p.mu.Lock()
	wasAlone := p.listenKnw && p.listeners == 0
	p.listeners, p.listenKnw = humans, true
	if humans == 0 && !wasAlone {
		p.aloneSince = p.cfg.Clock.Now()
	}
	p.mu.Unlock()
	p.wake()
}

// Listener is a member in the bot's voice channel.
type Listener struct {
	ID  string
	Bot bool
}

// VoteResult says where a vote-skip stands.
type VoteResult struct {
	// Votes counts votes of people still listening; Needed is how many skip.
	Votes, Needed int
	// AlreadyVoted is true when this user had voted for this track before.
	AlreadyVoted bool
	// Skipped is true when this vote skipped the track.
	Skipped bool
	// Track is the track voted on.
	Track store.Track
}

// VotesNeeded returns how many of humans listeners must vote to skip at
// ratio (fraction in (0, 1]; other values mean 0.5): ceil(humans × ratio),
// at least 1.
func VotesNeeded(humans int, ratio float64) int {
	if !(ratio > 0 && ratio <= 1) {
		ratio = 0.5
	}
	n := int(math.Ceil(float64(humans)*ratio - 1e-9))
	if n < 1 {
		n = 1
	}
	if humans > 0 && n > humans {
		n = humans
	}
	return n
}

// VoteSkip records userID's vote to skip the current track. listeners are
// the members in the bot's channel; bots are not counted and cannot vote.
// Votes of people who left no longer count. When the votes reach the ratio
// the track is skipped.
func (p *Player) VoteSkip(userID string, listeners []Listener, ratio float64) (VoteResult, error) {
	humans := make(map[string]bool, len(listeners))
	for _, l := range listeners {
		if !l.Bot {
			humans[l.ID] = true
		}
	}
	if !humans[userID] {
		return VoteResult{}, ErrNotListener
	}
	p.mu.Lock()
	closing := p.syncLocked()
	if p.q.current == nil {
		p.unlock(closing)
		return VoteResult{}, ErrNothingPlaying
	}
	res := VoteResult{Track: p.q.current.track, Needed: VotesNeeded(len(humans), ratio)}
	if _, ok := p.votes[userID]; ok {
		res.AlreadyVoted = true
	}
	p.votes[userID] = struct{}{}
	for id := range p.votes {
		if humans[id] {
			res.Votes++
		} else {
			delete(p.votes, id)
		}
	}
	if res.Votes >= res.Needed {
		res.Skipped = true
		closing = append(closing, p.skipLocked()...)
	}
	p.unlock(closing)
	if res.Skipped {
		p.wake()
		p.changed()
	}
	return res, nil
}

// Status is a read-only view of a player for /queue and /nowplaying.
type Status struct {
	State    State
	Current  *store.Track
	Position time.Duration
	Queue    []store.Track
	History  []store.Track
	Loop     store.LoopMode
	Volume   int
	// VoiceChannelID is empty when not connected.
	VoiceChannelID string
}

// Status returns the player's state; Position comes from the playing stream.
func (p *Player) Status() Status {
	p.mu.Lock()
	closing := p.syncLocked()
	st := Status{State: p.stateLocked(), Queue: p.q.tracks(), History: append([]store.Track(nil), p.q.history...),
		Loop: p.q.loop, Volume: p.volume}
	if p.conn != nil {
		st.VoiceChannelID = p.voiceID
	}
	s, pos := p.positionSourceLocked()
	if p.q.current != nil {
		t := p.q.current.track
		st.Current = &t
	}
	p.unlock(closing)
	st.Position = pos
	if s != nil {
		st.Position = s.Position()
	}
	return st
}

// positionSourceLocked returns the stream to ask for the position, or the
// position to report when no stream is loaded.
func (p *Player) positionSourceLocked() (Stream, time.Duration) {
	if p.q.current == nil {
		return nil, 0
	}
	if c := p.src.cur.Load(); c != nil && c.entry.key == p.q.current.key && c.gen == p.loadedGen && p.loadedGen == p.wantGen {
		return c.stream, 0
	}
	return nil, p.wantSeek
}

// Snapshot returns the state to persist.
func (p *Player) Snapshot() store.PlayerSnapshot {
	p.mu.Lock()
	closing := p.syncLocked()
	snap := store.PlayerSnapshot{
		Schema: store.SnapshotSchema, GuildID: p.cfg.GuildID, Version: p.version,
		Paused: p.paused, Queue: p.q.tracks(), History: append([]store.Track(nil), p.q.history...),
		Loop: p.q.loop, Volume: p.volume, Effects: store.Effects{Equalizer: p.eq},
		VoiceChannelID: p.voiceID, TextChannelID: p.textID, VoiceSessionID: p.sessionID,
		UpdatedAt: p.cfg.Clock.Now(),
	}
	if p.q.current != nil {
		t := p.q.current.track
		snap.Current = &t
	}
	s, pos := p.positionSourceLocked()
	p.unlock(closing)
	snap.Position = pos
	if s != nil {
		snap.Position = s.Position()
	}
	return snap
}

// Restore loads a snapshot into a player that is not playing. Playback
// resumes (at the saved position, paused if it was) once Join connects;
// the voice channel to rejoin is snap.VoiceChannelID.
func (p *Player) Restore(snap store.PlayerSnapshot) error {
	if snap.Schema > store.SnapshotSchema {
		return ErrTooNew
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.conn != nil || p.joining || p.q.current != nil {
		p.mu.Unlock()
		return ErrBusy
	}
	q := newQueue(p.cfg.MaxQueue, p.cfg.HistoryLimit)
	q.nextKey = p.q.nextKey
	switch snap.Loop {
	case store.LoopTrack, store.LoopQueue:
		q.loop = snap.Loop
	}
	for _, t := range snap.History {
		q.pushHistory(t)
	}
	queued := snap.Queue
	if len(queued) > q.maxLen {
		queued = queued[:q.maxLen]
	}
	q.add(queued...)
	if snap.Current != nil {
		e := q.newEntry(*snap.Current)
		q.current = &e
	}
	p.q = q
	p.newCurrentLocked(max(snap.Position, 0))
	p.paused = snap.Current != nil && snap.Paused
	p.src.paused.Store(p.paused)
	if snap.Volume >= 0 && snap.Volume <= 1000 {
		p.volume = snap.Volume
	}
	p.eq = snap.Effects.Equalizer
	p.voiceID, p.textID, p.sessionID = snap.VoiceChannelID, snap.TextChannelID, snap.VoiceSessionID
	p.version = snap.Version
	p.mu.Unlock()
	return nil
}

// Close stops the player: its goroutines end (after a last snapshot is
// saved and a running event callback returns), the voice connection is
// left and streams are closed. The current position is kept in the last
// snapshot so another node can resume.
func (p *Player) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	closing := p.syncLocked()
	if p.q.current != nil {
		if s, pos := p.positionSourceLocked(); s != nil {
			p.wantSeek = s.Position()
		} else {
			p.wantSeek = pos
		}
		p.wantGen = p.nextGenLocked()
	}
	c := p.conn
	p.conn = nil
	closing = append(closing, p.detachLocked()...)
	closing = append(closing, p.toClose...)
	p.toClose = nil
	p.mu.Unlock()
	close(p.closing)
	p.cancel()
	p.wg.Wait()
	closeAll(closing)
	if c != nil {
		c.Leave()
	}
}
