package player

import (
	"sync"
)

// Manager owns the players of all guilds served by this process.
type Manager struct {
	template Config

	mu      sync.Mutex
	players map[string]*Player
	closed  bool
}

// NewManager returns a Manager creating players from template (its
// GuildID is replaced per guild).
func NewManager(template Config) *Manager {
	return &Manager{template: template, players: map[string]*Player{}}
}

// Get returns the guild's player if it exists.
func (m *Manager) Get(guildID string) (*Player, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.players[guildID]
	return p, ok
}

// Create returns the guild's player, starting one if needed.
func (m *Manager) Create(guildID string) (*Player, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if p, ok := m.players[guildID]; ok {
		return p, nil
	}
	cfg := m.template
	cfg.GuildID = guildID
	p := New(cfg) // starts goroutines only; no I/O
	m.players[guildID] = p
	return p, nil
}

// Remove closes and forgets the guild's player.
func (m *Manager) Remove(guildID string) {
	m.mu.Lock()
	p, ok := m.players[guildID]
	delete(m.players, guildID)
	m.mu.Unlock()
	if ok {
		p.Close()
	}
}

// Len returns how many players exist.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.players)
}

// Close closes every player (each saves a last snapshot) and refuses new
// ones. Players close concurrently, so a slow store does not add up.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	ps := make([]*Player, 0, len(m.players))
	for id, p := range m.players {
		ps = append(ps, p)
		delete(m.players, id)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Close()
		}()
	}
	wg.Wait()
}
