package store

import "time"

// SnapshotSchema is the version of PlayerSnapshot written by this build.
// Readers reject snapshots with a higher version instead of guessing.
const SnapshotSchema = 1

// Track is one playable item as the player resolved it.
type Track struct {
	// ID is stable for the same source (used as cache key), e.g. "yt:dQw4w9WgXcQ".
	ID string `json:"id"`
	// URL is what the audio engine opens (a direct media URL, a page URL, or "file:" path inside the media folder).
	URL string `json:"url"`
	// Title and Author are shown to users; never trusted as markup.
	Title  string `json:"title"`
	Author string `json:"author,omitempty"`
	// Duration is zero for live streams.
	Duration time.Duration `json:"duration"`
	// RequestedBy is the Discord user id who queued it.
	RequestedBy string `json:"requested_by,omitempty"`
	// Artwork is an optional thumbnail URL.
	Artwork string `json:"artwork,omitempty"`
}

// LoopMode says what happens at the end of a track.
type LoopMode string

// Loop modes, as /loop names them.
const (
	LoopOff   LoopMode = "off"
	LoopTrack LoopMode = "track"
	LoopQueue LoopMode = "queue"
)

// Effects is the effect chain settings that survive a restart.
type Effects struct {
	// Equalizer holds gains for Lavalink's 15 bands (index 0 = 25 Hz ... 14 = 16 kHz), each −0.25…+1.0.
	Equalizer [15]float64 `json:"equalizer"`
}

// PlayerSnapshot is everything needed to resume a guild's player elsewhere.
type PlayerSnapshot struct {
	// Schema is SnapshotSchema at write time.
	Schema int `json:"schema"`
	// GuildID owns the snapshot.
	GuildID string `json:"guild_id"`
	// Version increases by one with every successful write (optimistic concurrency).
	Version int64 `json:"version"`
	// Current is the playing track, nil when idle.
	Current *Track `json:"current,omitempty"`
	// Position is the checkpointed playback position within Current.
	Position time.Duration `json:"position"`
	// Paused is true when the user paused playback.
	Paused bool `json:"paused"`
	// Queue holds upcoming tracks in order; History the most recent played ones, newest last.
	Queue   []Track `json:"queue"`
	History []Track `json:"history"`
	// Loop and Volume (percent, 0–1000) as the users set them.
	Loop   LoopMode `json:"loop"`
	Volume int      `json:"volume"`
	// Effects active on the player.
	Effects Effects `json:"effects"`
	// VoiceChannelID and TextChannelID say where the bot was and where it announces.
	VoiceChannelID string `json:"voice_channel_id,omitempty"`
	TextChannelID  string `json:"text_channel_id,omitempty"`
	// VoiceSessionID is the Discord voice session the bot had (never reused across channel changes).
	VoiceSessionID string `json:"voice_session_id,omitempty"`
	// UpdatedAt is when the snapshot was written.
	UpdatedAt time.Time `json:"updated_at"`
}

// GuildSettings are the per-guild options /settings changes.
type GuildSettings struct {
	GuildID string `json:"guild_id"`
	// DJRoleID, when set, is required (or Manage Channels) for destructive commands.
	DJRoleID string `json:"dj_role_id,omitempty"`
	// DefaultVolume in percent (0–1000), 100 when unset.
	DefaultVolume int `json:"default_volume"`
	// VoteSkipRatio is the fraction of listeners (bots excluded) needed to skip, 0.5 by default.
	VoteSkipRatio float64 `json:"vote_skip_ratio"`
	// AnnounceChannelID receives "now playing" messages; empty means the channel /play was used in.
	AnnounceChannelID string `json:"announce_channel_id,omitempty"`
	// AutoLeaveMinutes is how long the bot stays alone or idle before leaving, 3 by default.
	AutoLeaveMinutes int `json:"auto_leave_minutes"`
}

// DefaultGuildSettings returns the settings a guild has before anyone changes them.
func DefaultGuildSettings(guildID string) GuildSettings {
	return GuildSettings{GuildID: guildID, DefaultVolume: 100, VoteSkipRatio: 0.5, AutoLeaveMinutes: 3}
}

// Entitlement mirrors a Discord App Subscriptions entitlement.
type Entitlement struct {
	ID       string     `json:"id"`
	SKUID    string     `json:"sku_id"`
	UserID   string     `json:"user_id,omitempty"`
	GuildID  string     `json:"guild_id,omitempty"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	Deleted  bool       `json:"deleted"`
}

// HistoryEntry records one play for a guild's history.
type HistoryEntry struct {
	GuildID  string    `json:"guild_id"`
	Track    Track     `json:"track"`
	PlayedAt time.Time `json:"played_at"`
}

// Playlist is a user's saved list of tracks.
type Playlist struct {
	OwnerID string  `json:"owner_id"`
	Name    string  `json:"name"`
	Tracks  []Track `json:"tracks"`
}
