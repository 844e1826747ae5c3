package store

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Validation shared by every backend for the durable records.

func checkSettings(s *GuildSettings) error {
	if err := checkID("guild id", s.GuildID); err != nil {
		return err
	}
	if s.DefaultVolume < 0 || s.DefaultVolume > 1000 {
		return fmt.Errorf("%w: default volume %d outside 0-1000", ErrInvalid, s.DefaultVolume)
	}
	if math.IsNaN(s.VoteSkipRatio) || s.VoteSkipRatio < 0 || s.VoteSkipRatio > 1 {
		return fmt.Errorf("%w: vote skip ratio %v outside 0-1", ErrInvalid, s.VoteSkipRatio)
	}
	if s.AutoLeaveMinutes < 0 || s.AutoLeaveMinutes > 24*60 {
		return fmt.Errorf("%w: auto leave %d minutes outside 0-1440", ErrInvalid, s.AutoLeaveMinutes)
	}
	return nil
}

func checkEntitlement(e *Entitlement) error {
	if err := checkID("entitlement id", e.ID); err != nil {
		return err
	}
	if e.UserID == "" && e.GuildID == "" {
		return fmt.Errorf("%w: entitlement %s has neither user nor guild", ErrInvalid, e.ID)
	}
	return nil
}

// entitlementActive reports whether e applies to guildID or userID at t.
func entitlementActive(e *Entitlement, guildID, userID string, t time.Time) bool {
	if e.Deleted {
		return false
	}
	if !((guildID != "" && e.GuildID == guildID) || (userID != "" && e.UserID == userID)) {
		return false
	}
	if e.StartsAt != nil && t.Before(*e.StartsAt) {
		return false
	}
	if e.EndsAt != nil && !t.Before(*e.EndsAt) {
		return false
	}
	return true
}

func sortEntitlements(es []Entitlement) {
	sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
}

func checkHistory(e *HistoryEntry) error {
	if err := checkID("guild id", e.GuildID); err != nil {
		return err
	}
	if e.PlayedAt.IsZero() {
		return fmt.Errorf("%w: history entry without played_at", ErrInvalid)
	}
	return nil
}

func checkPlaylist(p *Playlist, lim Limits) error {
	if err := checkID("owner id", p.OwnerID); err != nil {
		return err
	}
	if err := checkID("playlist name", p.Name); err != nil {
		return err
	}
	if len(p.Tracks) > lim.MaxPlaylistTracks {
		return fmt.Errorf("%w: playlist has %d tracks, limit %d", ErrTooLarge, len(p.Tracks), lim.MaxPlaylistTracks)
	}
	return nil
}

func checkLeaseArgs(key, owner string, ttl time.Duration) error {
	if err := checkID("lease key", key); err != nil {
		return err
	}
	if err := checkID("lease owner", owner); err != nil {
		return err
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: lease ttl %v under 1ms", ErrInvalid, ttl)
	}
	return nil
}
