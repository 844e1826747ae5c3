package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// runContract is the one behaviour suite every backend must pass.
func runContract(t *testing.T, b backend) {
	open := b.setup(t)
	tests := []struct {
		name string
		run  func(t *testing.T, open func(testing.TB, Config) *Store, b backend)
	}{
		{"SnapshotMissing", testSnapshotMissing},
		{"SnapshotRoundTrip", testSnapshotRoundTrip},
		{"SnapshotVersionConflict", testSnapshotVersionConflict},
		{"SnapshotUpdate", testSnapshotUpdate},
		{"SnapshotCheckpoint", testSnapshotCheckpoint},
		{"SnapshotListDelete", testSnapshotListDelete},
		{"SnapshotBadData", testSnapshotBadData},
		{"SnapshotInvalid", testSnapshotInvalid},
		{"SnapshotConcurrentUpdates", testSnapshotConcurrent},
		{"Settings", testSettings},
		{"Entitlements", testEntitlements},
		{"History", testHistory},
		{"Playlists", testPlaylists},
		{"Leases", testLeases},
		{"RateLimiter", testRateLimiter},
		{"TrackCache", testTrackCache},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open, b) })
	}
}

// ctxT bounds a test's store calls. Generous: on a loaded CI machine a
// thousand fsynced commits can take a minute, and only a hang should fail.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var testNames sync.Map // *testing.T → stable per-test name

func gid(t *testing.T, n int) string {
	name, _ := testNames.LoadOrStore(t, testName(t))
	return fmt.Sprintf("g-%s-%d", name, n)
}

func sampleSnapshot(guildID string) PlayerSnapshot {
	cur := Track{ID: "yt:abc", URL: "https://example.test/a", Title: "Song <b>A</b>", Author: "X", Duration: 3 * time.Minute, RequestedBy: "u1"}
	s := PlayerSnapshot{
		GuildID: guildID, Current: &cur, Position: 42 * time.Second, Paused: true,
		Queue:   []Track{{ID: "yt:b", URL: "https://example.test/b", Title: "B", Duration: time.Minute}, {ID: "file:c", URL: "file:c.flac", Title: "C"}},
		History: []Track{{ID: "yt:z", Title: "Z"}},
		Loop:    LoopQueue, Volume: 150, VoiceChannelID: "vc1", TextChannelID: "tc1", VoiceSessionID: "sess1",
	}
	s.Effects.Equalizer[0], s.Effects.Equalizer[14] = 0.5, -0.25
	return s
}

func wantErr(t *testing.T, err, target error, guild string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	if guild != "" && !strings.Contains(err.Error(), guild) {
		t.Fatalf("error %q does not name guild %q", err, guild)
	}
}

func testSnapshotMissing(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	g := gid(t, 1)
	_, err := s.Snapshots.Get(ctxT(t), g)
	wantErr(t, err, ErrNotFound, g)
	wantErr(t, s.Snapshots.Checkpoint(ctxT(t), g, time.Second), ErrNotFound, g)
	if err := s.Snapshots.Delete(ctxT(t), g); err != nil {
		t.Fatalf("Delete of a missing snapshot: %v", err)
	}
}

func testSnapshotRoundTrip(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	in := sampleSnapshot(g)
	before := time.Now().Add(-time.Second)
	v, err := s.Snapshots.Put(ctx, in, 0)
	if err != nil || v != 1 {
		t.Fatalf("Put = %d, %v; want 1, nil", v, err)
	}
	out, err := s.Snapshots.Get(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 || out.Schema != SnapshotSchema || out.UpdatedAt.Before(before) {
		t.Fatalf("Version %d Schema %d UpdatedAt %v: want 1, %d, now", out.Version, out.Schema, out.UpdatedAt, SnapshotSchema)
	}
	in.Version, in.Schema, in.UpdatedAt = out.Version, out.Schema, out.UpdatedAt
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the snapshot:\n got %+v\nwant %+v", out, in)
	}
}

func testSnapshotVersionConflict(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	a := sampleSnapshot(g)
	if _, err := s.Snapshots.Put(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Snapshots.Put(ctx, a, 0)
	wantErr(t, err, ErrVersionConflict, g)
	a.Volume = 70
	if v, err := s.Snapshots.Put(ctx, a, 1); err != nil || v != 2 {
		t.Fatalf("Put(expect 1) = %d, %v", v, err)
	}
	stale := a
	stale.Volume = 5
	_, err = s.Snapshots.Put(ctx, stale, 1)
	wantErr(t, err, ErrVersionConflict, g)
	_, err = s.Snapshots.Put(ctx, stale, 7)
	wantErr(t, err, ErrVersionConflict, g)
	got, err := s.Snapshots.Get(ctx, g)
	if err != nil || got.Volume != 70 || got.Version != 2 {
		t.Fatalf("after conflicts: volume %d version %d err %v; want the version-2 write (70)", got.Volume, got.Version, err)
	}
}

func testSnapshotUpdate(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	got, err := s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error {
		if p.Version != 0 || p.Volume != 100 {
			return fmt.Errorf("fresh snapshot has version %d volume %d", p.Version, p.Volume)
		}
		p.Queue = append(p.Queue, Track{ID: "t1"})
		return nil
	})
	if err != nil || got.Version != 1 || len(got.Queue) != 1 {
		t.Fatalf("first Update = %+v, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error { p.Volume = 1; return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update with failing fn = %v, want boom", err)
	}
	got, err = s.Snapshots.Get(ctx, g)
	if err != nil || got.Version != 1 || got.Volume != 100 {
		t.Fatalf("failed Update wrote: version %d volume %d err %v", got.Version, got.Volume, err)
	}
}

func testSnapshotCheckpoint(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	if _, err := s.Snapshots.Put(ctx, sampleSnapshot(g), 0); err != nil {
		t.Fatal(err)
	}
	for _, pos := range []time.Duration{5 * time.Second, 10 * time.Second, 15*time.Second + 7} {
		if err := s.Snapshots.Checkpoint(ctx, g, pos); err != nil {
			t.Fatal(err)
		}
		got, err := s.Snapshots.Get(ctx, g)
		if err != nil || got.Position != pos || got.Version != 1 || len(got.Queue) != 2 {
			t.Fatalf("after checkpoint %v: position %v version %d queue %d err %v", pos, got.Position, got.Version, len(got.Queue), err)
		}
	}
	// A full write supersedes the checkpoint.
	n := sampleSnapshot(g)
	n.Position = time.Second
	if _, err := s.Snapshots.Put(ctx, n, 1); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Snapshots.Get(ctx, g)
	if got.Position != time.Second {
		t.Fatalf("position after Put = %v, want 1s", got.Position)
	}
	wantErr(t, s.Snapshots.Checkpoint(ctx, g, -time.Second), ErrInvalid, g)
}

func testSnapshotListDelete(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	prefix := gid(t, 0)
	want := map[string]bool{}
	for i := 1; i <= 3; i++ {
		g := fmt.Sprintf("%s-%d", prefix, i)
		want[g] = true
		if _, err := s.Snapshots.Put(ctx, sampleSnapshot(g), 0); err != nil {
			t.Fatal(err)
		}
	}
	list := func() map[string]bool {
		all, err := s.Snapshots.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got := map[string]bool{}
		for _, p := range all {
			if strings.HasPrefix(p.GuildID, prefix) {
				got[p.GuildID] = true
				if len(p.Queue) != 2 {
					t.Fatalf("listed snapshot %s lost its queue", p.GuildID)
				}
			}
		}
		return got
	}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	del := prefix + "-2"
	if err := s.Snapshots.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	delete(want, del)
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("List after Delete = %v, want %v", got, want)
	}
	if _, err := s.Snapshots.Get(ctx, del); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if v, err := s.Snapshots.Put(ctx, sampleSnapshot(del), 0); err != nil || v != 1 {
		t.Fatalf("re-create after Delete = %d, %v", v, err)
	}
}

func testSnapshotBadData(t *testing.T, open func(testing.TB, Config) *Store, b backend) {
	s := open(t, Config{Limits: Limits{MaxSnapshotBytes: 1 << 20}})
	ctx := ctxT(t)
	good := gid(t, 0)
	if _, err := s.Snapshots.Put(ctx, sampleSnapshot(good), 0); err != nil {
		t.Fatal(err)
	}
	big := make([]Track, 10000)
	for i := range big {
		big[i] = Track{ID: fmt.Sprintf("yt:%d", i), URL: "https://example.test/" + strings.Repeat("x", 1000), Title: "t"}
	}
	bigJSON := []byte(`{"schema":1,"guild_id":"G","queue":[` + strings.Repeat(`{"id":"x","url":"`+strings.Repeat("y", 1000)+`"},`, 10000) + `{}]}`)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"not json", []byte("\x00\xffgarbage"), ErrCorrupt},
		{"truncated", []byte(`{"schema":1,"guild_id":"G","queue":[{"id":`), ErrCorrupt},
		{"no schema", []byte(`{"guild_id":"G"}`), ErrCorrupt},
		{"future schema", []byte(`{"schema":99,"guild_id":"G","queue":"a new shape"}`), ErrUnknownSchema},
		{"wrong guild", []byte(`{"schema":1,"guild_id":"someone-else"}`), ErrCorrupt},
		{"wrong types", []byte(`{"schema":1,"guild_id":"G","volume":"loud"}`), ErrCorrupt},
		{"10 MB queue", bigJSON, ErrTooLarge},
		{"empty", []byte{}, ErrCorrupt},
	}
	var bad []string
	for i, c := range cases {
		g := gid(t, i+1)
		bad = append(bad, g)
		data := []byte(strings.ReplaceAll(string(c.data), `"G"`, `"`+g+`"`))
		b.plant(t, s, g, data)
		_, err := s.Snapshots.Get(ctx, g)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), g) {
			t.Errorf("%s: Get = %v, want %v naming %s", c.name, err, c.want, g)
		}
	}
	// Writing a 10 MB queue is refused up front.
	p := sampleSnapshot(gid(t, 99))
	p.Queue = big
	_, err := s.Snapshots.Put(ctx, p, 0)
	wantErr(t, err, ErrTooLarge, p.GuildID)
	// List returns the good snapshot and names every bad one.
	all, err := s.Snapshots.List(ctx)
	found := false
	for _, x := range all {
		found = found || x.GuildID == good
	}
	if !found {
		t.Errorf("List dropped the good snapshot %s because of bad ones", good)
	}
	for _, g := range bad {
		if err == nil || !strings.Contains(err.Error(), g) {
			t.Errorf("List error %v does not name bad guild %s", err, g)
		}
	}
}

func testSnapshotInvalid(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	mut := []struct {
		name string
		f    func(*PlayerSnapshot)
		want error
	}{
		{"volume", func(p *PlayerSnapshot) { p.Volume = 5000 }, ErrInvalid},
		{"loop", func(p *PlayerSnapshot) { p.Loop = "sometimes" }, ErrInvalid},
		{"equalizer", func(p *PlayerSnapshot) { p.Effects.Equalizer[3] = 7 }, ErrInvalid},
		{"empty guild", func(p *PlayerSnapshot) { p.GuildID = "" }, ErrInvalid},
		{"long guild", func(p *PlayerSnapshot) { p.GuildID = strings.Repeat("9", 500) }, ErrInvalid},
	}
	for _, m := range mut {
		p := sampleSnapshot(g)
		m.f(&p)
		if _, err := s.Snapshots.Put(ctx, p, 0); !errors.Is(err, m.want) {
			t.Errorf("%s: Put = %v, want %v", m.name, err, m.want)
		}
	}
	if _, err := s.Snapshots.Get(ctx, g); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an invalid Put stored something: %v", err)
	}
}

// testSnapshotConcurrent: two writers (two Stores when the backend is shared
// by nodes) each add 500 to one guild's counter; not one update may be lost.
func testSnapshotConcurrent(t *testing.T, open func(testing.TB, Config) *Store, b backend) {
	const perWriter = 500
	a := open(t, Config{})
	other := a
	if b.multiNode {
		other = open(t, Config{})
	}
	ctx := ctxT(t)
	g := gid(t, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []*Store{a, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, err := s.Snapshots.Update(ctx, g, func(p *PlayerSnapshot) error {
					p.Position += time.Millisecond
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	got, err := a.Snapshots.Get(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if got.Position != 2*perWriter*time.Millisecond || got.Version != 2*perWriter {
		t.Fatalf("after 2×%d updates: counter %v version %d; want %v and %d", perWriter, got.Position, got.Version,
			2*perWriter*time.Millisecond, 2*perWriter)
	}
}

func testSettings(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	g := gid(t, 1)
	got, err := s.Settings.Get(ctx, g)
	if err != nil || got != DefaultGuildSettings(g) {
		t.Fatalf("unset settings = %+v, %v; want defaults", got, err)
	}
	want := GuildSettings{GuildID: g, DJRoleID: "r1", DefaultVolume: 80, VoteSkipRatio: 0.75, AnnounceChannelID: "c9", AutoLeaveMinutes: 10}
	if err := s.Settings.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.DefaultVolume = 90 // overwrite
	if err := s.Settings.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Settings.Get(ctx, g); err != nil || got != want {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []GuildSettings{
		{GuildID: g, DefaultVolume: -1, VoteSkipRatio: 0.5},
		{GuildID: g, DefaultVolume: 100, VoteSkipRatio: 1.5},
		{GuildID: g, DefaultVolume: 100, VoteSkipRatio: 0.5, AutoLeaveMinutes: -3},
		{GuildID: "", DefaultVolume: 100},
	} {
		if err := s.Settings.Put(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testEntitlements(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	g, u := gid(t, 1), gid(t, 2)
	es := []Entitlement{
		{ID: gid(t, 10), SKUID: "sku", GuildID: g},                                   // active, no window
		{ID: gid(t, 11), SKUID: "sku", GuildID: g, StartsAt: &past, EndsAt: &future}, // active
		{ID: gid(t, 12), SKUID: "sku", GuildID: g, EndsAt: &past},                    // ended
		{ID: gid(t, 13), SKUID: "sku", GuildID: g, StartsAt: &future},                // not started
		{ID: gid(t, 14), SKUID: "sku", GuildID: g, Deleted: true},                    // deleted
		{ID: gid(t, 15), SKUID: "sku2", UserID: u, StartsAt: &past},                  // user's
		{ID: gid(t, 16), SKUID: "sku", GuildID: gid(t, 3)},                           // other guild
	}
	for _, e := range es {
		if err := s.Entitlements.Upsert(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(list []Entitlement) []string {
		var out []string
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	cases := []struct {
		guild, user string
		want        []string
	}{
		{g, "", []string{es[0].ID, es[1].ID}},
		{"", u, []string{es[5].ID}},
		{g, u, []string{es[0].ID, es[1].ID, es[5].ID}},
		{gid(t, 99), "", nil},
	}
	for _, c := range cases {
		got, err := s.Entitlements.Active(ctx, c.guild, c.user, now)
		if err != nil || !reflect.DeepEqual(ids(got), c.want) {
			t.Errorf("Active(%q,%q) = %v, %v; want %v", c.guild, c.user, ids(got), err, c.want)
		}
	}
	// Discord's ENTITLEMENT_DELETE arrives as an update with deleted=true.
	del := es[0]
	del.Deleted = true
	if err := s.Entitlements.Upsert(ctx, del); err != nil {
		t.Fatal(err)
	}
	got, err := s.Entitlements.Get(ctx, del.ID)
	if err != nil || !got.Deleted || got.GuildID != g {
		t.Fatalf("Get after delete = %+v, %v", got, err)
	}
	one, err := s.Entitlements.Get(ctx, es[1].ID)
	if err != nil || one.StartsAt == nil || !one.StartsAt.Equal(past) || !one.EndsAt.Equal(future) {
		t.Fatalf("Get = %+v, %v; window lost", one, err)
	}
	if _, err := s.Entitlements.Get(ctx, gid(t, 404)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get unknown = %v", err)
	}
	if err := s.Entitlements.Upsert(ctx, Entitlement{ID: gid(t, 20), SKUID: "s"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("entitlement without user or guild: %v", err)
	}
}

func testHistory(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{Limits: Limits{HistoryPerGuild: 10}})
	ctx := ctxT(t)
	g := gid(t, 1)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	for i := range 15 {
		if err := s.History.Add(ctx, HistoryEntry{GuildID: g, Track: Track{ID: fmt.Sprint("t", i), Title: "T"}, PlayedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.History.Add(ctx, HistoryEntry{GuildID: gid(t, 2), Track: Track{ID: "other"}, PlayedAt: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.History.Recent(ctx, g, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("Recent(3) = %d entries, %v", len(got), err)
	}
	for i, e := range got {
		if want := fmt.Sprint("t", 14-i); e.Track.ID != want || !e.PlayedAt.Equal(t0.Add(time.Duration(14-i)*time.Second)) || e.GuildID != g {
			t.Fatalf("Recent[%d] = %+v, want track %s newest first", i, e, want)
		}
	}
	all, err := s.History.Recent(ctx, g, 100)
	if err != nil || len(all) != 10 || all[9].Track.ID != "t5" {
		t.Fatalf("retention: %d entries (last %+v), %v; want the newest 10", len(all), all[len(all)-1], err)
	}
	if err := s.History.Add(ctx, HistoryEntry{GuildID: g}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("entry without time: %v", err)
	}
}

func testPlaylists(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{Limits: Limits{MaxPlaylistTracks: 50}})
	ctx := ctxT(t)
	owner := gid(t, 1)
	p := Playlist{OwnerID: owner, Name: "road trip", Tracks: []Track{{ID: "a", Title: "A"}, {ID: "b", Title: "B; DROP TABLE playlists;--"}}}
	if err := s.Playlists.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.Playlists.Save(ctx, Playlist{OwnerID: owner, Name: "chill"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Playlists.Get(ctx, owner, "road trip")
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, p)
	}
	names, err := s.Playlists.Names(ctx, owner)
	if err != nil || !reflect.DeepEqual(names, []string{"chill", "road trip"}) {
		t.Fatalf("Names = %v, %v", names, err)
	}
	if err := s.Playlists.Delete(ctx, owner, "chill"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Playlists.Get(ctx, owner, "chill"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted = %v", err)
	}
	if _, err := s.Playlists.Get(ctx, gid(t, 2), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get unknown owner = %v", err)
	}
	big := Playlist{OwnerID: owner, Name: "big", Tracks: make([]Track, 51)}
	if err := s.Playlists.Save(ctx, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("51-track playlist with limit 50: %v", err)
	}
}

func testLeases(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	key := gid(t, 1)
	a, err := s.Leases.Acquire(ctx, key, "node-a", time.Minute)
	if err != nil || a.Token < 1 || a.Owner != "node-a" {
		t.Fatalf("Acquire = %+v, %v", a, err)
	}
	if _, err := s.Leases.Acquire(ctx, key, "node-b", time.Minute); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second owner Acquire = %v, want ErrLeaseHeld", err)
	}
	again, err := s.Leases.Acquire(ctx, key, "node-a", time.Minute)
	if err != nil || again.Token != a.Token {
		t.Fatalf("re-Acquire by holder = %+v, %v; want same token %d", again, err, a.Token)
	}
	if a, err = s.Leases.Renew(ctx, a, time.Minute); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := s.Leases.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Leases.Renew(ctx, a, time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew after Release = %v, want ErrLeaseLost", err)
	}
	b, err := s.Leases.Acquire(ctx, key, "node-b", 100*time.Millisecond)
	if err != nil || b.Token <= a.Token {
		t.Fatalf("Acquire after release = %+v, %v; want token above %d", b, err, a.Token)
	}
	// b's short lease expires; then a takes over with a larger token and b is fenced off.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var c Lease
	for {
		c, err = s.Leases.Acquire(ctx, key, "node-a", time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("Acquire after expiry: %v", err)
		}
		<-tick.C
	}
	if c.Token <= b.Token {
		t.Fatalf("token after expiry %d, want above %d", c.Token, b.Token)
	}
	if _, err := s.Leases.Renew(ctx, b, time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew of expired lease = %v, want ErrLeaseLost", err)
	}
	if err := s.Leases.Release(ctx, b); err != nil { // stale release must not free c
		t.Fatal(err)
	}
	if _, err := s.Leases.Acquire(ctx, key, "node-b", time.Minute); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("stale Release freed the new holder's lease: %v", err)
	}

	// Ten nodes race for a fresh key: exactly one wins.
	race := gid(t, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners, held := 0, 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Leases.Acquire(ctx, race, fmt.Sprint("node-", i), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case errors.Is(err, ErrLeaseHeld):
				held++
			default:
				t.Errorf("racing Acquire: %v", err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 || held != 9 {
		t.Fatalf("10 racing Acquires: %d won, %d held; want 1 and 9", winners, held)
	}
}

func testRateLimiter(t *testing.T, open func(testing.TB, Config) *Store, _ backend) {
	s := open(t, Config{})
	ctx := ctxT(t)
	key := gid(t, 1)
	rate := PerMinute(6) // one every 10 s
	start := time.Now()
	for i := range 3 {
		d, err := s.RateLimiter.Allow(ctx, key, rate, 3)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("event %d: %+v, %v; want allowed with %d remaining", i, d, err, 2-i)
		}
	}
	d, err := s.RateLimiter.Allow(ctx, key, rate, 3)
	// The burst was used at start: the next slot opens 10 s after it.
	if lo := 10*time.Second - time.Since(start) - 100*time.Millisecond; err != nil || d.Allowed || d.RetryAfter < lo || d.RetryAfter > 10*time.Second {
		t.Fatalf("4th event: %+v, %v; want denied, retry in about 10s", d, err)
	}
	if d, err := s.RateLimiter.Allow(ctx, gid(t, 2), rate, 1); err != nil || !d.Allowed {
		t.Fatalf("other key: %+v, %v", d, err)
	}
	if _, err := s.RateLimiter.Allow(ctx, key, Rate{}, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero rate: %v", err)
	}
}

func testTrackCache(t *testing.T, open func(testing.TB, Config) *Store, b backend) {
	reg := prometheus.NewRegistry()
	s := open(t, Config{Registerer: reg})
	ctx := ctxT(t)
	key := "ytsearch:" + gid(t, 1)
	if _, ok := s.TrackCache.Get(ctx, key); ok {
		t.Fatal("hit on empty cache")
	}
	tracks := []Track{{ID: "yt:1", Title: "One", Duration: time.Minute}, {ID: "yt:2", Title: "Two"}}
	s.TrackCache.Set(ctx, key, tracks, time.Minute)
	got, ok := s.TrackCache.Get(ctx, key)
	if !ok || !reflect.DeepEqual(got, tracks) {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	got[0].Title = "mutated by caller"
	if again, _ := s.TrackCache.Get(ctx, key); again[0].Title != "One" {
		t.Fatal("caller mutation leaked into the cache")
	}
	if r := s.TrackCache.HitRatio(); r < 0.66 || r > 0.67 {
		t.Fatalf("HitRatio = %v after 1 miss and 2 hits", r)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exported float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "quaver_store_trackcache_hit_ratio" {
			exported = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if exported < 0.66 || exported > 0.67 {
		t.Fatalf("exported hit ratio = %v", exported)
	}
	if b.multiNode && s.info.TrackCacheL2 != "" {
		// Another node misses in its L1 and hits the shared L2.
		peer := open(t, Config{})
		if got, ok := peer.TrackCache.Get(ctx, key); !ok || !reflect.DeepEqual(got, tracks) {
			t.Fatalf("peer Get via L2 = %v, %v", got, ok)
		}
	}
}

// TestMetricsSharedRegistry: two Stores on one registry do not take each
// other's metrics away when one closes.
func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	a := mustOpen(t, Config{Path: dir + "/a.db", Registerer: reg})
	b, err := Open(context.Background(), Config{Path: dir + "/b.db", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	a.TrackCache.Get(context.Background(), "k")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "quaver_store_trackcache_hit_ratio"
	}
	if !found {
		t.Fatal("closing the second Store unregistered the first Store's metrics")
	}
}
