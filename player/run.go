package player

import (
	"context"
	"time"
)

// nextGenLocked returns a fresh generation number.
func (p *Player) nextGenLocked() uint64 {
	p.genSeq++
	return p.genSeq
}

// syncLocked applies what the frame path reported (track switches, ends,
// failures) to the queue state and returns finished streams to close
// outside the lock. Every command calls it first, so commands always see
// the track the listeners hear.
func (p *Player) syncLocked() []Stream {
	evs := p.src.take(p.spare)
	var closing []Stream
	for i := range evs {
		ev := &evs[i]
		closing = append(closing, ev.from.stream)
		if ev.from.gen != p.loadedGen || p.q.current == nil {
			continue // a stream the player had already replaced
		}
		if ev.kind != srcSwitched && p.wantGen != p.loadedGen {
			// The stream ended or failed while its replacement (a seek
			// reopening the track) was being opened: the replacement plays.
			p.loadedGen = 0
			continue
		}
		switch ev.kind {
		case srcSwitched:
			p.q.advanceTo(ev.to.entry)
			p.wantGen, p.loadedGen, p.wantSeek = ev.to.gen, ev.to.gen, 0
			p.retried, p.failStreak = false, 0
			p.planGen++
			clear(p.votes)
			p.announceLocked()
		case srcEnded:
			p.loadedGen = 0
			p.failStreak = 0
			if _, ok := p.q.advance(true); !ok {
				p.emitLocked(Event{Type: EventQueueEnd})
			}
			p.newCurrentLocked(0)
		case srcFailed:
			p.loadedGen = 0
			p.failedLocked(ev.err, ev.from.stream.Position())
		}
		p.changed()
	}
	clear(evs)
	p.spare = evs[:0]
	closing = append(closing, p.toClose...)
	p.toClose = nil
	return closing
}

func (p *Player) announceLocked() {
	if p.q.current != nil && p.q.current.key != p.announcedKey {
		p.announcedKey = p.q.current.key
		p.emitLocked(Event{Type: EventTrackStart, Track: p.q.current.track})
	}
}

// failedLocked handles a failed or unopenable current track: the first
// failure reopens it at pos, the second skips it with an announcement.
func (p *Player) failedLocked(err error, pos time.Duration) {
	if p.q.current == nil {
		return
	}
	if !p.retried {
		p.log.Info("player: track failed, retrying once", "track", p.q.current.track.ID, "err", err)
		p.retried = true
		p.wantGen = p.nextGenLocked()
		p.wantSeek = pos
		return
	}
	p.emitLocked(Event{Type: EventTrackFailed, Track: p.q.current.track, Err: err})
	p.failStreak++
	if p.failStreak >= p.cfg.MaxFailStreak {
		p.failStreak = 0
		p.stopLocked()
		p.emitLocked(Event{Type: EventStopped, Err: err})
		return
	}
	_, ok := p.q.advance(false)
	p.newCurrentLocked(0)
	if !ok {
		p.emitLocked(Event{Type: EventQueueEnd})
	}
}

// run is the player's control loop: it opens streams, preloads the next
// track, checkpoints, and leaves when alone or idle.
func (p *Player) run() {
	defer p.wg.Done()
	timer := p.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, connDone := p.step()
		timer.Reset(wait)
		select {
		case <-p.closing:
			return
		case <-p.kick:
		case <-p.src.notify:
		case <-connDone:
			p.voiceLost()
		case <-timer.C():
		}
	}
}

type preloadJob struct {
	e       entry
	planGen uint64
	cur     Stream
	curDur  time.Duration
	opts    OpenOptions
}

// step does all due work and returns how long to sleep at most and the
// voice connection's Done channel.
func (p *Player) step() (time.Duration, <-chan struct{}) {
	for {
		p.mu.Lock()
		closing := p.syncLocked()
		if p.closed {
			p.mu.Unlock()
			closeAll(closing)
			return time.Hour, nil
		}
		// Open the current track when it changed.
		if p.conn != nil && p.q.current != nil && p.wantGen != p.loadedGen {
			e, g := *p.q.current, p.wantGen
			opts := OpenOptions{Seek: p.wantSeek, Volume: p.volume, Equalizer: p.eq}
			ctx, cancel := context.WithTimeout(p.ctx, p.cfg.OpenTimeout)
			p.cancelOpen = cancel
			p.mu.Unlock()
			closeAll(closing)
			s, err := p.cfg.Engine.Open(ctx, e.track, opts)
			cancel()
			p.installCurrent(e, g, opts, s, err)
			continue
		}
		now := p.cfg.Clock.Now()
		wait := time.Hour
		// Auto-leave.
		if p.conn != nil && !p.joining {
			if reason, dl := p.leaveDeadlineLocked(); reason != "" {
				if !now.Before(dl) {
					c := p.conn
					p.conn, p.voiceID = nil, ""
					p.joinGen++
					p.stopLocked()
					closing = append(closing, p.detachLocked()...)
					p.emitLocked(Event{Type: EventAutoLeave, Reason: reason})
					p.mu.Unlock()
					closeAll(closing)
					c.Leave()
					p.changed()
					continue
				}
				wait = min(wait, dl.Sub(now))
			}
		}
		loaded := p.conn != nil && p.q.current != nil && p.loadedGen == p.wantGen
		// Checkpoint the position while playing.
		if loaded && !p.paused {
			due := p.lastSave.Add(p.cfg.CheckpointEvery)
			if !now.Before(due) {
				p.lastSave = now
				if p.cfg.Persister != nil {
					p.kickPersist()
				}
				due = now.Add(p.cfg.CheckpointEvery)
			}
			wait = min(wait, due.Sub(now))
		}
		// Consider preloading what plays next.
		var job *preloadJob
		if loaded && p.preloadedGen != p.planGen {
			next, ok := p.q.peek(true)
			c := p.src.cur.Load()
			if ok && c != nil && c.gen == p.loadedGen {
				dur := p.q.current.track.Duration
				if d, isD := c.stream.(Durationer); isD && dur == 0 {
					dur = d.Duration()
				}
				if dur > 0 {
					job = &preloadJob{e: next, planGen: p.planGen, cur: c.stream, curDur: dur,
						opts: OpenOptions{Volume: p.volume, Equalizer: p.eq}}
				}
			}
		}
		var connDone <-chan struct{}
		if p.conn != nil {
			connDone = p.conn.Done()
		}
		p.mu.Unlock()
		closeAll(closing)
		if job != nil {
			left := job.curDur - job.cur.Position()
			if left <= p.cfg.PreloadAhead {
				p.preload(job)
				continue
			}
			wait = min(wait, left-p.cfg.PreloadAhead)
		}
		return max(wait, time.Millisecond), connDone
	}
}

// leaveDeadlineLocked says why and when the bot should leave, if it should.
func (p *Player) leaveDeadlineLocked() (string, time.Time) {
	reason, dl := "", time.Time{}
	if p.q.current == nil && !p.idleSince.IsZero() {
		reason, dl = "idle", p.idleSince.Add(p.cfg.AutoLeave)
	}
	if p.listenKnw && p.listeners == 0 && !p.aloneSince.IsZero() {
		if d := p.aloneSince.Add(p.cfg.AutoLeave); reason == "" || d.Before(dl) {
			reason, dl = "alone", d
		}
	}
	return reason, dl
}

// installCurrent puts a freshly opened stream on the frame path, unless a
// newer command made it stale.
func (p *Player) installCurrent(e entry, g uint64, opts OpenOptions, s Stream, err error) {
	p.mu.Lock()
	if p.closed || g != p.wantGen || p.q.current == nil || p.q.current.key != e.key || p.conn == nil {
		p.mu.Unlock()
		if s != nil {
			s.Close()
		}
		return
	}
	p.cancelOpen = nil
	if err != nil || s == nil {
		if err == nil {
			err = errNilStream
		}
		p.failedLocked(err, opts.Seek)
		p.mu.Unlock()
		if s != nil {
			s.Close()
		}
		p.changed()
		return
	}
	old := p.src.swapCur(&slot{stream: s, entry: e, gen: g})
	p.loadedGen = g
	p.lastSave = p.cfg.Clock.Now() // the change is saved now; checkpoints follow every CheckpointEvery
	p.announceLocked()
	vol, eq := p.volume, p.eq
	p.mu.Unlock()
	if old != nil {
		old.stream.Close()
	}
	catchUp(s, opts, vol, eq)
	p.changed()
}

// catchUp applies to s the volume and equalizer set while it was being
// opened with opts.
func catchUp(s Stream, opts OpenOptions, vol int, eq [15]float64) {
	if vol != opts.Volume {
		s.SetVolume(vol)
	}
	if eq != opts.Equalizer {
		s.SetEqualizer(eq)
	}
}

// preload opens the next track and parks it for the gapless switch.
func (p *Player) preload(job *preloadJob) {
	p.mu.Lock()
	p.preloadedGen = job.planGen // one attempt per plan, success or not
	gen := p.nextGenLocked()
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.OpenTimeout)
	s, err := p.cfg.Engine.Open(ctx, job.e.track, job.opts)
	cancel()
	if err != nil || s == nil {
		p.log.Info("player: preloading the next track failed; it will be opened when due", "track", job.e.track.ID, "err", err)
		return
	}
	p.mu.Lock()
	ok := !p.closed && job.planGen == p.planGen && p.loadedGen == p.wantGen
	if ok {
		next, has := p.q.peek(true)
		ok = has && next.key == job.e.key && p.src.setNext(&slot{stream: s, entry: job.e, gen: gen})
	}
	vol, eq := p.volume, p.eq
	p.mu.Unlock()
	if !ok {
		s.Close()
		return
	}
	if p.cfg.preloaded != nil {
		p.cfg.preloaded()
	}
	catchUp(s, job.opts, vol, eq)
}

// voiceLost handles a voice connection that stopped by itself.
func (p *Player) voiceLost() {
	p.mu.Lock()
	c := p.conn
	if c == nil {
		p.mu.Unlock()
		return
	}
	select {
	case <-c.Done():
	default:
		p.mu.Unlock()
		return
	}
	p.conn, p.voiceID = nil, ""
	closing := p.syncLocked()
	p.keepPositionLocked()
	closing = append(closing, p.detachLocked()...)
	p.emitLocked(Event{Type: EventDisconnected, Err: c.Err()})
	p.mu.Unlock()
	closeAll(closing)
	p.changed()
}

// persistLoop saves snapshots after changes, one call at a time; kicks
// arriving during a call coalesce into one more call. Position-only
// checkpoints use Checkpointer when the Persister has it. It saves once
// more when the player closes.
func (p *Player) persistLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.persistKick:
			p.save(false)
		case <-p.closing:
			p.save(true)
			return
		}
	}
}

func (p *Player) save(final bool) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.SaveTimeout)
	defer cancel()
	full := p.dirty.Swap(false) || final
	if cp, ok := p.cfg.Persister.(Checkpointer); ok && !full {
		snap := p.Snapshot()
		if snap.Current == nil || snap.Version == 0 {
			full = true // nothing stored yet to checkpoint against
		} else if err := cp.Checkpoint(ctx, snap.GuildID, snap.Position); err != nil {
			p.log.Warn("player: checkpoint failed", "err", err)
		}
		if !full {
			return
		}
	}
	snap := p.Snapshot() // Version is the last version stored
	if err := p.cfg.Persister.Save(ctx, snap); err != nil {
		p.dirty.Store(true) // try again at the next change or checkpoint
		p.log.Warn("player: saving the snapshot failed", "err", err)
		return
	}
	p.mu.Lock()
	if p.version == snap.Version {
		p.version++
	}
	p.mu.Unlock()
}

// eventLoop delivers events to Config.OnEvent in order.
func (p *Player) eventLoop() {
	defer p.wg.Done()
	for {
		select {
		case e := <-p.events:
			p.cfg.OnEvent(e)
		case <-p.closing:
			return
		}
	}
}
