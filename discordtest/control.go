package discordtest

import (
	"context"
	"slices"
	"time"
)

// SessionInfo describes a gateway session.
type SessionInfo struct {
	ID         string
	Shard      int
	Shards     int
	Intents    uint64
	Connected  bool
	Seq        int64
	Resumes    int
	Heartbeats int
	// Compress is set when Identify asked for payload compression: large
	// dispatches then go out as zlib binary messages.
	Compress bool
}

// Sessions lists the live (connected or resumable) gateway sessions,
// oldest first.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionsLocked()
}

func (s *Server) sessionsLocked() []SessionInfo {
	live := s.liveSessionsLocked()
	slices.SortFunc(live, func(a, b *session) int { return a.created.Compare(b.created) })
	out := make([]SessionInfo, 0, len(live))
	for _, x := range live {
		out = append(out, SessionInfo{ID: x.id, Shard: x.shard, Shards: x.shards, Intents: x.intents,
			Connected: x.conn != nil, Seq: x.seq, Resumes: x.resumes, Heartbeats: x.heartbeats,
			Compress: x.compress})
	}
	return out
}

// WaitSessions waits until cond holds for the live sessions and returns them.
func (s *Server) WaitSessions(ctx context.Context, cond func([]SessionInfo) bool) ([]SessionInfo, error) {
	var out []SessionInfo
	err := s.wait(ctx, func() bool {
		out = s.sessionsLocked()
		return cond(out)
	})
	return out, err
}

// ClosesSent lists the close codes the gateway sent, oldest first.
func (s *Server) ClosesSent() []CloseCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gw.closes)
}

// WaitClose waits until the gateway has sent close code code.
func (s *Server) WaitClose(ctx context.Context, code CloseCode) error {
	return s.wait(ctx, func() bool { return slices.Contains(s.gw.closes, code) })
}

// connsLocked lists the connections of shard (-1: all).
func (s *Server) connsLocked(shard int) []*conn {
	var out []*conn
	for c := range s.gw.conns {
		if shard < 0 || (c.sess != nil && c.sess.shard == shard) {
			out = append(out, c)
		}
	}
	return out
}

// DropConnections cuts the TCP connections of a shard's sessions (-1: all)
// without a close frame, as a network failure would; the sessions stay
// resumable. It returns how many connections it cut.
func (s *Server) DropConnections(shard int) int {
	s.mu.Lock()
	conns := s.connsLocked(shard)
	s.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
	return len(conns)
}

// CloseConnections closes a shard's connections (-1: all) with a close
// code; the sessions stay resumable.
func (s *Server) CloseConnections(shard int, code CloseCode) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.connsLocked(shard)
	for _, c := range conns {
		c.closeLocked(code)
	}
	return len(conns)
}

// RequestReconnect sends op 7 Reconnect on a shard's connections (-1: all).
func (s *Server) RequestReconnect(shard int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.connsLocked(shard)
	for _, c := range conns {
		c.sendOpLocked(opReconnect, nil)
	}
	return len(conns)
}

// InvalidateSessions sends op 9 Invalid Session on a shard's connections
// (-1: all), with d = resumable; a non-resumable session is forgotten. The
// connection expects a new Identify (or Resume) afterwards.
func (s *Server) InvalidateSessions(shard int, resumable bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.connsLocked(shard)
	for _, c := range conns {
		if c.sess == nil {
			continue
		}
		if !resumable {
			delete(s.gw.sessions, c.sess.id)
		} else {
			c.sess.conn = nil
			c.sess.detachedAt = time.Now()
		}
		c.sess = nil
		c.identified = false
		c.sendOpLocked(opInvalidSession, resumable)
	}
	s.notifyLocked()
	return len(conns)
}

// RequestHeartbeat sends op 1 on a shard's connections (-1: all), asking
// the clients to heartbeat at once.
func (s *Server) RequestHeartbeat(shard int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.connsLocked(shard)
	for _, c := range conns {
		c.sendOpLocked(opHeartbeat, nil)
	}
	return len(conns)
}
