package resolve

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quaverbot/quaver/store"
)

// Suggestion is one autocomplete choice for /play. Both fields fit Discord's
// 100-character limit for choice names and values.
// https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-choice-structure
type Suggestion struct {
	// Name is shown to the user (plain text, Discord does not render markdown here).
	Name string
	// Value is sent back as the /play query when chosen.
	Value string
}

// choiceLimit is Discord's maximum length of a choice name or value.
const choiceLimit = 100

// minSuggestPrefix is the shortest prefix worth searching for.
const minSuggestPrefix = 3

// Suggest returns autocomplete choices for what the user has typed so far.
// Links and "file:" names are offered back as they are (no network); words
// are searched, and results are cached by prefix for Config.SuggestTTL, so
// typing and deleting does not search again. Prefixes shorter than three
// characters give no suggestions.
func (r *Resolver) Suggest(ctx context.Context, prefix string) ([]Suggestion, error) {
	q, err := Classify(prefix, r.cfg.MaxQueryLen)
	if err != nil {
		if err == ErrEmptyQuery {
			return nil, nil
		}
		return nil, err
	}
	if q.Kind != KindSearch {
		text, _ := Clean(prefix, r.cfg.MaxQueryLen)
		if len(text) > choiceLimit {
			return nil, nil
		}
		return []Suggestion{{Name: text, Value: text}}, nil
	}
	if utf8.RuneCountInString(q.Text) < minSuggestPrefix {
		return nil, nil
	}
	key := strings.ToLower(q.Text)
	now := r.now()
	r.cacheM.Lock()
	s, ok := r.cache.get(key, now)
	r.cacheM.Unlock()
	if ok {
		return s, nil
	}
	tracks, err := r.search(ctx, q.Text, r.cfg.SearchResults)
	if err != nil {
		return nil, err
	}
	s = make([]Suggestion, 0, len(tracks))
	for _, t := range tracks {
		s = append(s, Suggestion{Name: choiceName(t), Value: "https://youtu.be/" + strings.TrimPrefix(t.ID, idYouTube)})
	}
	r.cacheM.Lock()
	r.cache.put(key, s, now.Add(r.cfg.SuggestTTL))
	r.cacheM.Unlock()
	return s, nil
}

// choiceName is "Title — Author (m:ss)" cut to Discord's limit.
func choiceName(t store.Track) string {
	name, _ := Clean(t.Title, 1<<20)
	if name == "" {
		name = "(untitled)"
	}
	if a, _ := Clean(t.Author, 1<<20); a != "" {
		name += " — " + a
	}
	suffix := ""
	if t.Duration > 0 {
		suffix = " (" + FormatDuration(t.Duration) + ")"
	}
	limit := choiceLimit - utf8.RuneCountInString(suffix)
	if utf8.RuneCountInString(name) > limit {
		name = string([]rune(name)[:limit-1]) + "…"
	}
	return name + suffix
}

// FormatDuration writes d as m:ss or h:mm:ss.
func FormatDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	h, m, sec := s/3600, s/60%60, s%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// suggestCache is a small expiring cache with first-in-first-out eviction.
// It is not safe for concurrent use (the Resolver guards it).
type suggestCache struct {
	max   int
	items map[string]suggestItem
	order []string
}

type suggestItem struct {
	s       []Suggestion
	expires time.Time
}

func newSuggestCache(max int) suggestCache {
	return suggestCache{max: max, items: make(map[string]suggestItem)}
}

func (c *suggestCache) get(key string, now time.Time) ([]Suggestion, bool) {
	it, ok := c.items[key]
	if !ok || !now.Before(it.expires) {
		return nil, false
	}
	return it.s, true
}

func (c *suggestCache) put(key string, s []Suggestion, expires time.Time) {
	if _, ok := c.items[key]; !ok {
		for len(c.order) >= c.max {
			delete(c.items, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.items[key] = suggestItem{s: s, expires: expires}
}
