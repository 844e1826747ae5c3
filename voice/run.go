package voice

import (
	"errors"
	"fmt"
	"time"
)

// outcome is why serve returned.
type outcome struct {
	err  error    // the link died
	cmd  *command // a VOICE_SERVER_UPDATE needs a reconnect
	stop error    // stop with this reason (nil reason after Close)
	quit bool
}

// run is the connection's goroutine: it serves the live link and carries out
// the close-code table when the link dies.
func (c *Conn) run() {
	defer c.wg.Done()
	var reason error
	defer func() {
		c.handle.Remove()
		if l := c.currentLink(); l != nil {
			if reason == nil {
				l.closeWith(1000)
			}
			l.close()
			c.setLink(nil)
		}
		c.installMedia(nil)
		if c.ownPacer {
			_ = c.cfg.Pacer.Close()
		}
		c.errMu.Lock()
		c.err = reason
		c.errMu.Unlock()
		c.emit(Event{State: StateStopped, Err: reason})
		close(c.done)
	}()
	for {
		out := c.serve(c.currentLink())
		if out.quit {
			return
		}
		if out.stop != nil {
			reason = out.stop
			return
		}
		if out.err != nil {
			// Apply updates the owner sent before the link died, so that a
			// move announced before its 4014 is honoured.
			if stop := c.drainCommands(&out); stop != nil {
				reason = stop
				return
			}
		}
		var next Action
		code := 0
		switch {
		case out.cmd != nil && out.cmd.endpoint == "":
			// Null endpoint: the voice server is going away; wait for the next.
			c.teardown()
			next = ActionWaitServerUpdate
		case out.cmd != nil:
			c.endpoint, c.token = out.cmd.endpoint, out.cmd.token
			c.teardown()
			next = ActionNewSession
		default:
			code = closeCodeOf(out.err)
			next = LookupCloseCode(code).Action
			c.log.Info("voice: gateway connection lost", "err", out.err, "code", code, "action", next)
		}
		if err := c.recover(next, code, out.cmd != nil && out.cmd.endpoint == ""); err != nil {
			if errors.Is(err, errClosed) {
				return
			}
			reason = err
			return
		}
		c.emit(Event{State: StateReady, Code: code})
	}
}

func closeCodeOf(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 1006 // abnormal closure: no close frame
}

// stopErr turns a close code into the owner's stop reason.
func stopErr(code int) error {
	if code == 4017 {
		return ErrDAVERequired
	}
	return &CloseError{Code: code}
}

// recover carries out action until the connection is ready again or must
// stop. It returns errClosed after Close.
func (c *Conn) recover(action Action, code int, nullEndpoint bool) error {
	attempts := 0
	backoff := c.cfg.RetryBackoff
	fail := func(err error) error {
		attempts++
		if attempts >= c.cfg.MaxAttempts {
			return fmt.Errorf("voice: giving up after %d attempts: %w", attempts, err)
		}
		if !c.sleep(backoff) {
			return errClosed
		}
		backoff *= 2
		return nil
	}
	for {
		select {
		case <-c.stop:
			return errClosed
		default:
		}
		switch action {
		case ActionResume:
			if c.token == "" { // credentials went stale with a channel move
				action = ActionWaitServerUpdate
				continue
			}
			c.emit(Event{State: StateResuming, Code: code})
			if l := c.currentLink(); l != nil {
				l.close()
				c.setLink(nil)
			}
			err := c.resume(c.ctx)
			if err == nil {
				return nil
			}
			var ce *CloseError
			if errors.As(err, &ce) && LookupCloseCode(ce.Code).Action != ActionResume {
				// Refused (4006) or worse: follow the table.
				code, action = ce.Code, LookupCloseCode(ce.Code).Action
				attempts, backoff = 0, c.cfg.RetryBackoff
				continue
			}
			if e := fail(err); e != nil {
				// The server is unreachable for resuming: try a new session.
				action, attempts, backoff = ActionNewSession, 0, c.cfg.RetryBackoff
				if errors.Is(e, errClosed) {
					return e
				}
			}
		case ActionNewSession:
			if c.token == "" || c.endpoint == "" {
				action = ActionWaitServerUpdate
				continue
			}
			c.emit(Event{State: StateReconnecting, Code: code})
			c.teardown()
			err := c.newSession(c.ctx)
			if err == nil {
				return nil
			}
			var ce *CloseError
			if errors.As(err, &ce) {
				if a := LookupCloseCode(ce.Code).Action; a == ActionStop || a == ActionWaitServerUpdate {
					code, action = ce.Code, a
					continue
				}
			}
			if e := fail(err); e != nil {
				return e
			}
		case ActionWaitServerUpdate:
			c.teardown()
			c.emit(Event{State: StateWaitingForServer, Code: code})
			wait := c.cfg.ServerUpdateWait
			if nullEndpoint {
				wait = c.cfg.NullEndpointWait
			}
			cmd, err := c.waitServerUpdate(wait)
			if err != nil {
				if errors.Is(err, ErrNoServerUpdate) && code != 0 {
					return fmt.Errorf("%w (after %v)", err, stopErr(code))
				}
				return err
			}
			c.endpoint, c.token = cmd.endpoint, cmd.token
			nullEndpoint = false
			action, attempts, backoff = ActionNewSession, 0, c.cfg.RetryBackoff
		case ActionStop:
			return stopErr(code)
		}
	}
}

// applyState applies a VOICE_STATE_UPDATE. Leaving the channel stops the
// connection; moving to another channel makes the token stale: it belongs to
// the old channel and is never reused, so the next reconnect waits for
// UpdateServer.
func (c *Conn) applyState(cmd command) error {
	if cmd.channelID == "" {
		return ErrLeftChannel
	}
	if cmd.channelID != c.channelID {
		c.token = ""
	}
	c.sessionID, c.channelID = cmd.sessionID, cmd.channelID
	return nil
}

// drainCommands applies queued owner commands without waiting. A queued
// server update replaces the link error as the reason to reconnect.
func (c *Conn) drainCommands(out *outcome) error {
	for {
		select {
		case cmd := <-c.cmds:
			if cmd.kind == cmdState {
				if err := c.applyState(cmd); err != nil {
					return err
				}
				continue
			}
			out.cmd, out.err = &cmd, nil
		default:
			return nil
		}
	}
}

// waitServerUpdate waits for an UpdateServer with an endpoint.
func (c *Conn) waitServerUpdate(d time.Duration) (command, error) {
	t := c.clk.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return command{}, errClosed
		case <-t.C():
			return command{}, ErrNoServerUpdate
		case cmd := <-c.cmds:
			switch {
			case cmd.kind == cmdState:
				if err := c.applyState(cmd); err != nil {
					return command{}, err
				}
			case cmd.endpoint != "":
				return cmd, nil
			}
		}
	}
}

// sleep waits d unless the connection is closed first.
func (c *Conn) sleep(d time.Duration) bool {
	t := c.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-c.stop:
		return false
	}
}

// serve runs the live link: heartbeats, incoming messages, Speaking
// updates and owner commands.
func (c *Conn) serve(l *link) outcome {
	hb := c.clk.NewTimer(l.heartbeat)
	defer hb.Stop()
	acked := true
	for {
		select {
		case <-c.stop:
			return outcome{quit: true}
		case f := <-l.in:
			if f.err != nil {
				return outcome{err: f.err}
			}
			m, err := c.track(f)
			if err != nil {
				c.log.Warn("voice: bad gateway message", "err", err)
				continue
			}
			if m == nil {
				continue
			}
			if m.Op == opHeartbeatACK {
				acked = true
				continue
			}
			c.handleOther(m)
		case <-hb.C():
			if !acked {
				// A missed ACK means a zombie connection: resume on a new one.
				l.close()
				return outcome{err: errors.New("voice: heartbeat not acknowledged")}
			}
			acked = false
			if err := l.sendJSON(c.ctx, opHeartbeat, map[string]any{
				"t": c.clk.Now().UnixMilli(), "seq_ack": c.seqAck,
			}); err != nil {
				return outcome{err: err}
			}
			hb.Reset(l.heartbeat)
		case <-c.speakReq:
			want := c.speakWant.Load()
			if want == c.speakSent.Load() {
				continue
			}
			m := c.media.Load()
			if m == nil {
				continue
			}
			if err := l.sendJSON(c.ctx, opSpeaking, map[string]any{
				"speaking": want, "delay": 0, "ssrc": m.ssrc,
			}); err != nil {
				return outcome{err: err}
			}
			c.speakSent.Store(want)
		case cmd := <-c.cmds:
			if cmd.kind == cmdState {
				if err := c.applyState(cmd); err != nil {
					return outcome{stop: err}
				}
				continue
			}
			return outcome{cmd: &cmd}
		}
	}
}
