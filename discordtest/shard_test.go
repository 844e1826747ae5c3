package discordtest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestShardingSplitsGuildsByFormula(t *testing.T) {
	w := newWorld(t, Config{Shards: 2})
	srv := w.srv
	guilds := []string{w.guild}
	for len(guilds) < 6 {
		guilds = append(guilds, srv.AddGuild("g"))
	}
	want := map[int][]string{}
	for _, g := range guilds {
		s := shardByFormula(g, 2)
		want[s] = append(want[s], g)
	}
	if len(want[0]) == 0 || len(want[1]) == 0 {
		t.Fatalf("all guilds on one shard: %v", want)
	}
	events := []*botEvents{newBotEvents(), newBotEvents()}
	for i := range events {
		events[i].guildCreate = make(chan *discordgo.GuildCreate, 16)
	}
	sessions := []*discordgo.Session{
		openDiscordgo(t, srv, 0, 2, events[0]),
		openDiscordgo(t, srv, 1, 2, events[1]),
	}
	gw, err := sessions[0].GatewayBot()
	if err != nil || gw.Shards != 2 {
		t.Fatalf("GatewayBot %+v %v", gw, err)
	}
	for shard, ev := range events {
		ready := recvT(t, ev.ready, "READY")
		if ready.Shard == nil || ready.Shard[0] != shard || ready.Shard[1] != 2 || len(ready.Guilds) != len(want[shard]) {
			t.Fatalf("shard %d READY shard %v guilds %d, want %d", shard, ready.Shard, len(ready.Guilds), len(want[shard]))
		}
		var got []string
		for range want[shard] {
			got = append(got, recvT(t, ev.guildCreate, "GUILD_CREATE").ID)
		}
		slices.Sort(got)
		exp := slices.Clone(want[shard])
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("shard %d got guilds %v, want %v", shard, got, exp)
		}
	}
	// A guild created now goes to its shard only.
	late := srv.AddGuild("late")
	ls := shardByFormula(late, 2)
	if gc := recvT(t, events[ls].guildCreate, "late GUILD_CREATE"); gc.ID != late {
		t.Fatalf("late guild on shard %d: got %s", ls, gc.ID)
	}
	// Interactions go to the shard of their guild.
	if _, err := sessions[0].ApplicationCommandCreate(srv.ApplicationID(), "", &discordgo.ApplicationCommand{Name: "ping", Description: "p"}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	for shard := range 2 {
		g := want[shard][0]
		ch, err := srv.AddChannel(g, Channel{Name: "text", Type: ChannelText})
		if err != nil {
			t.Fatal(err)
		}
		owner, _ := srv.GuildOwner(g)
		inv, err := srv.InvokeCommand(ctx, g, ch, owner, "ping")
		if err != nil {
			t.Fatal(err)
		}
		ic := recvT(t, events[shard].interactions, "interaction")
		if ic.ID != inv.ID {
			t.Fatalf("shard %d got interaction %s, want %s", shard, ic.ID, inv.ID)
		}
		select {
		case other := <-events[1-shard].interactions:
			t.Fatalf("shard %d also got interaction %s", 1-shard, other.ID)
		default:
		}
	}
}

// TestVoiceUpdateOnWrongShardIgnored: op 4 for a guild of another shard is
// ignored, as Discord only honours it on the guild's shard.
func TestVoiceUpdateOnWrongShardIgnored(t *testing.T) {
	srv := New(Config{Shards: 2})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	byShard := map[int]string{}
	for len(byShard) < 2 {
		g := srv.AddGuild("g")
		byShard[shardByFormula(g, 2)] = g
	}
	vcs := map[string]string{}
	for _, g := range byShard {
		vc, err := srv.AddChannel(g, Channel{Name: "v", Type: ChannelVoice})
		if err != nil {
			t.Fatal(err)
		}
		vcs[g] = vc
	}
	c := dialRaw(t, srv, "v=10&encoding=json")
	c.recv()
	c.identify(srv.Token(), IntentGuilds|IntentGuildVoiceStates, []int{0, 2})
	c.recvUntil("READY")
	foreign, own := byShard[1], byShard[0]
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": foreign, "channel_id": vcs[foreign]}})
	c.send(map[string]any{"op": 4, "d": map[string]any{"guild_id": own, "channel_id": vcs[own]}})
	f := c.recvUntil("VOICE_SERVER_UPDATE")
	var d struct {
		GuildID string `json:"guild_id"`
	}
	if err := json.Unmarshal(f.D, &d); err != nil || d.GuildID != own {
		t.Fatalf("VOICE_SERVER_UPDATE for %s, want %s", f.D, own)
	}
	if vs, ok := srv.VoiceState(foreign, srv.BotID()); ok {
		t.Fatalf("op 4 on the wrong shard joined %+v", vs)
	}
}
