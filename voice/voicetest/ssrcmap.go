package voicetest

import "sync"

// ssrcShards is how many locks the SSRC index is split over, so the UDP
// readers of a loaded server rarely meet on one.
const ssrcShards = 64

// ssrcMap indexes live sessions by SSRC for the UDP receive path: a lookup is
// a read lock and a map access, with no interface boxing (sync.Map's
// hashing of interface keys showed up in the voice load profile).
type ssrcMap struct {
	shards [ssrcShards]struct {
		mu sync.RWMutex
		m  map[uint32]*Session
	}
}

func (m *ssrcMap) load(ssrc uint32) (*Session, bool) {
	sh := &m.shards[ssrc%ssrcShards]
	sh.mu.RLock()
	ss, ok := sh.m[ssrc]
	sh.mu.RUnlock()
	return ss, ok
}

func (m *ssrcMap) store(ssrc uint32, ss *Session) {
	sh := &m.shards[ssrc%ssrcShards]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = map[uint32]*Session{}
	}
	sh.m[ssrc] = ss
	sh.mu.Unlock()
}

func (m *ssrcMap) delete(ssrc uint32) {
	sh := &m.shards[ssrc%ssrcShards]
	sh.mu.Lock()
	delete(sh.m, ssrc)
	sh.mu.Unlock()
}
