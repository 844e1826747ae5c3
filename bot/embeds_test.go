package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/store"
)

func TestParsePosition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90", 90 * time.Second, true},
		{"1:30", 90 * time.Second, true},
		{"01:02:03", time.Hour + 2*time.Minute + 3*time.Second, true},
		{" 0:06 ", 6 * time.Second, true},
		{"1:60", 0, false},
		{"", 0, false},
		{"-5", 0, false},
		{"1:2:3:4", 0, false},
		{"abc", 0, false},
		{"1::2", 0, false},
		{"9999999999999", 0, false},
	} {
		got, err := parsePosition(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parsePosition(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"90", "1:30", "1:02:03", "::", "99:99:99", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parsePosition(s)
		if err == nil && (d < 0 || d > 1000000*time.Hour) {
			t.Fatalf("parsePosition(%q) = %v", s, d)
		}
	})
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		pos, dur time.Duration
		knob     int // cell index of the knob
	}{
		{0, time.Minute, 0},
		{30 * time.Second, time.Minute, 10},
		{time.Minute, time.Minute, 19},
		{2 * time.Minute, time.Minute, 19},
		{-time.Second, time.Minute, 0},
	} {
		bar := progressBar(tc.pos, tc.dur)
		cells := []rune(strings.Fields(bar)[0])
		if len(cells) != 20 || cells[tc.knob] != '🔘' {
			t.Errorf("progressBar(%v, %v) = %q, want the knob at cell %d", tc.pos, tc.dur, bar, tc.knob)
		}
	}
	if bar := progressBar(5*time.Second, 0); !strings.Contains(bar, "unknown") {
		t.Errorf("unknown length: %q", bar)
	}
}

func TestQueuePagesAndEscaping(t *testing.T) {
	st := player.Status{Loop: store.LoopOff}
	for i := range 25 {
		st.Queue = append(st.Queue, store.Track{Title: "t" + strings.Repeat("x", i), Duration: time.Second})
	}
	st.Queue[0].Title = "**bold** @everyone"
	e, comps := queuePage(st, 1)
	if strings.Contains(e.Description, "**bold**") || strings.Contains(e.Description, "@everyone") {
		t.Errorf("title not escaped: %q", e.Description)
	}
	if n := strings.Count(e.Description, "\n"); n != queuePageSize {
		t.Errorf("page 1 lists %d lines, want %d", n, queuePageSize)
	}
	if len(comps) != 1 {
		t.Fatalf("25 tracks need page buttons")
	}
	e, _ = queuePage(st, 99) // clamped to the last page
	if !strings.Contains(e.Footer.Text, "page 3/3") || !strings.Contains(e.Description, "25. ") {
		t.Errorf("last page: %q / %q", e.Footer.Text, e.Description)
	}
}

func TestShardOf(t *testing.T) {
	// (id >> 22) % shards, https://discord.com/developers/docs/topics/gateway#sharding
	id := uint64(5) << 22
	for shards, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 1} {
		if got := shardOf(strconvU(id), shards); got != want {
			t.Errorf("shardOf(5<<22, %d) = %d, want %d", shards, got, want)
		}
	}
	if shardOf("junk", 4) != 0 {
		t.Error("unparsable id must go to shard 0")
	}
}

func strconvU(v uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}

// TestCountReplies: every reply that carries a count agrees with it in
// number ("1 track", "2 tracks", "0 tracks").
func TestCountReplies(t *testing.T) {
	song := store.Track{Title: "Song", Duration: time.Minute}
	for _, tc := range []struct {
		n                    int
		cleared, votes, more string
		upNext, footer       string
	}{
		{n: 0, cleared: "0 tracks removed", votes: "0 of 0 votes needed to skip ", more: "and 0 more tracks", upNext: "0 tracks", footer: " · 0 tracks · "},
		{n: 1, cleared: "1 track removed", votes: "0 of 1 vote needed to skip ", more: "and 1 more track", upNext: "1 track", footer: " · 1 track · "},
		{n: 2, cleared: "2 tracks removed", votes: "1 of 2 votes needed to skip ", more: "and 2 more tracks", upNext: "2 tracks", footer: " · 2 tracks · "},
	} {
		if got := clearedText(tc.n); got != tc.cleared {
			t.Errorf("/clear of %d: %q, want %q", tc.n, got, tc.cleared)
		}
		r := player.VoteResult{Votes: max(tc.n-1, 0), Needed: tc.n, Track: song}
		if got := voteText(r); !strings.HasPrefix(got, tc.votes) || !strings.Contains(got, "Song") {
			t.Errorf("/voteskip with %d needed: %q, want it to start with %q and name the track", tc.n, got, tc.votes)
		}
		r.AlreadyVoted = true
		if got := voteText(r); got != "You already voted. "+voteText(player.VoteResult{Votes: r.Votes, Needed: r.Needed, Track: song}) {
			t.Errorf("/voteskip again with %d needed: %q", tc.n, got)
		}
		if got := moreTracksText(tc.n); got != tc.more {
			t.Errorf("/play of %d more: %q, want %q", tc.n, got, tc.more)
		}
		st := player.Status{Current: &song, Loop: store.LoopOff}
		for range tc.n {
			st.Queue = append(st.Queue, song)
		}
		np, _ := nowPlaying(st)
		upNext := ""
		for _, f := range np.Fields {
			if f.Name == "Up next" {
				upNext = f.Value
			}
		}
		if got := upNext; got != tc.upNext {
			t.Errorf("/nowplaying with %d queued: Up next %q, want %q", tc.n, got, tc.upNext)
		}
		q, _ := queuePage(st, 1)
		if q.Footer == nil || !strings.Contains(q.Footer.Text, tc.footer) {
			t.Errorf("/queue with %d queued: footer %+v, want it to contain %q", tc.n, q.Footer, tc.footer)
		}
	}
}
