package discordtest

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// botEvents collects what a discordgo session received.
type botEvents struct {
	ready        chan *discordgo.Ready
	guildCreate  chan *discordgo.GuildCreate
	voiceServer  chan *discordgo.VoiceServerUpdate
	voiceState   chan *discordgo.VoiceStateUpdate
	resumed      chan struct{}
	interactions chan *discordgo.InteractionCreate
}

func newBotEvents() *botEvents {
	return &botEvents{
		ready: make(chan *discordgo.Ready, 8), guildCreate: make(chan *discordgo.GuildCreate, 8),
		voiceServer: make(chan *discordgo.VoiceServerUpdate, 8), voiceState: make(chan *discordgo.VoiceStateUpdate, 32),
		resumed: make(chan struct{}, 8), interactions: make(chan *discordgo.InteractionCreate, 8),
	}
}

// openDiscordgo opens a discordgo session the way the bot will: redirecting
// HTTP client, a dialer trusting the test CA, the token with "Bot ".
func openDiscordgo(t *testing.T, srv *Server, shard, shards int, ev *botEvents) *discordgo.Session {
	t.Helper()
	dg, err := discordgo.New("Bot " + srv.Token())
	if err != nil {
		t.Fatal(err)
	}
	client := srv.HTTPClient()
	dg.Client = client
	dg.Dialer = srv.Dialer()
	dg.ShardID, dg.ShardCount = shard, shards
	dg.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildVoiceStates | discordgo.IntentsGuildMessages
	dg.LogLevel = -1
	if os.Getenv("DISCORDTEST_DEBUG") == "1" {
		dg.LogLevel = discordgo.LogInformational
	}
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.Ready) { trySend(ev.ready, e) })
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.GuildCreate) { trySend(ev.guildCreate, e) })
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.VoiceServerUpdate) { trySend(ev.voiceServer, e) })
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.VoiceStateUpdate) { trySend(ev.voiceState, e) })
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.Resumed) { trySend(ev.resumed, struct{}{}) })
	dg.AddHandler(func(_ *discordgo.Session, e *discordgo.InteractionCreate) { trySend(ev.interactions, e) })
	if err := dg.Open(); err != nil {
		t.Fatalf("discordgo Open: %v", err)
	}
	t.Cleanup(func() {
		dg.ShouldReconnectOnError = false
		_ = dg.Close()
		client.CloseIdleConnections()
	})
	return dg
}

func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func recvT[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestDiscordgoEndToEnd(t *testing.T) {
	var logBuf syncBuffer
	w := newWorld(t, Config{Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := w.srv
	if _, err := srv.JoinVoice(w.guild, w.alice, w.vc); err != nil {
		t.Fatal(err)
	}
	ev := newBotEvents()
	dg := openDiscordgo(t, srv, 0, 1, ev)

	ready := recvT(t, ev.ready, "READY")
	if ready.User.ID != srv.BotID() || len(ready.Guilds) != 1 || ready.Application.ID != srv.ApplicationID() {
		t.Fatalf("READY user %s guilds %d app %v", ready.User.ID, len(ready.Guilds), ready.Application)
	}
	gc := recvT(t, ev.guildCreate, "GUILD_CREATE")
	if gc.ID != w.guild || len(gc.Channels) != 4 || len(gc.VoiceStates) != 1 || gc.VoiceStates[0].UserID != w.alice {
		t.Fatalf("GUILD_CREATE %s channels %d voice %d", gc.ID, len(gc.Channels), len(gc.VoiceStates))
	}
	// discordgo asks for payload compression: GUILD_CREATE came as zlib.
	if ss := srv.Sessions(); len(ss) != 1 || !ss[0].Compress {
		t.Fatalf("sessions %+v", ss)
	}
	// discordgo's state cache computes permissions from what we sent.
	perms, err := dg.State.UserChannelPermissions(w.alice, w.vc)
	if err != nil || perms&discordgo.PermissionVoiceConnect == 0 {
		t.Fatalf("state permissions %b, %v", perms, err)
	}

	// REST: discordgo reaches discord.com through the redirecting client.
	gw, err := dg.GatewayBot()
	if err != nil || !strings.HasPrefix(gw.URL, srv.GatewayURL()) || gw.Shards != 1 {
		t.Fatalf("GatewayBot %+v %v", gw, err)
	}
	me, err := dg.User("@me")
	if err != nil || me.ID != srv.BotID() || !me.Bot {
		t.Fatalf("users/@me %+v %v", me, err)
	}
	member, err := dg.GuildMember(w.guild, w.alice)
	if err != nil || member.User.ID != w.alice || len(member.Roles) != 1 || member.Roles[0] != w.djRole {
		t.Fatalf("GuildMember %+v %v", member, err)
	}

	cmds, err := dg.ApplicationCommandBulkOverwrite(srv.ApplicationID(), "", []*discordgo.ApplicationCommand{
		{Name: "play", Description: "Play a track", Options: []*discordgo.ApplicationCommandOption{
			{Type: discordgo.ApplicationCommandOptionString, Name: "query", Description: "What to play", Required: true, Autocomplete: true},
		}},
		{Name: "slow", Description: "Takes a while"},
	})
	if err != nil || len(cmds) != 2 || cmds[0].ID == "" || cmds[0].ApplicationID != srv.ApplicationID() {
		t.Fatalf("bulk overwrite %v %v", cmds, err)
	}
	if got := srv.Commands(""); len(got) != 2 || got[0].Name != "play" || !got[0].Options[0].Autocomplete {
		t.Fatalf("registered %+v", got)
	}

	ctx := ctxT(t, 60*time.Second)

	// A slash command, answered with a message and an ephemeral follow-up.
	inv, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "play", StringOption("query", "never gonna"))
	if err != nil {
		t.Fatal(err)
	}
	ic := recvT(t, ev.interactions, "INTERACTION_CREATE")
	data := ic.ApplicationCommandData()
	if ic.ID != inv.ID || data.Name != "play" || data.Options[0].StringValue() != "never gonna" ||
		ic.Member.User.ID != w.alice || ic.Member.Permissions&discordgo.PermissionManageChannels == 0 || ic.GuildID != w.guild {
		t.Fatalf("interaction %+v data %+v", ic.Interaction, data)
	}
	err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{
			Content: "Queued never gonna",
			Embeds:  []*discordgo.MessageEmbed{{Title: "Now playing", Description: "never gonna"}},
			Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
				discordgo.Button{Label: "Pause", Style: discordgo.PrimaryButton, CustomID: "pause"},
			}}},
		},
	})
	if err != nil {
		t.Fatalf("InteractionRespond: %v", err)
	}
	if _, err := dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{Content: "only you see this", Flags: discordgo.MessageFlagsEphemeral}); err != nil {
		t.Fatalf("follow-up: %v", err)
	}
	resp, err := inv.WaitResponse(ctx)
	if err != nil || resp.Content != "Queued never gonna" || len(resp.Embeds) != 1 || resp.Embeds[0].Title != "Now playing" ||
		resp.Ephemeral() || resp.Type != MessageChatInputCommand || len(resp.CustomIDs()) != 1 {
		t.Fatalf("response %+v %v", resp, err)
	}
	fu, err := inv.WaitFollowup(ctx, 0)
	if err != nil || fu.Content != "only you see this" || !fu.Ephemeral() {
		t.Fatalf("follow-up %+v %v", fu, err)
	}
	// Answering twice is refused as Discord does.
	err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: 4, Data: &discordgo.InteractionResponseData{Content: "again"}})
	var rerr *discordgo.RESTError
	if !errors.As(err, &rerr) || rerr.Message == nil || rerr.Message.Code != discordgo.ErrCodeInteractionHasAlreadyBeenAcknowledged {
		t.Fatalf("second callback: %v", err)
	}

	// The button: type 3, answered by updating the message.
	click, err := srv.ClickButton(ctx, resp.ID, "pause", w.bob)
	if err != nil {
		t.Fatal(err)
	}
	ic = recvT(t, ev.interactions, "button INTERACTION_CREATE")
	if ic.Type != discordgo.InteractionMessageComponent || ic.MessageComponentData().CustomID != "pause" || ic.Message == nil || ic.Message.ID != resp.ID {
		t.Fatalf("component interaction %+v", ic.Interaction)
	}
	if err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseUpdateMessage, Data: &discordgo.InteractionResponseData{Content: "Paused"},
	}); err != nil {
		t.Fatal(err)
	}
	upd, err := click.WaitResponse(ctx)
	if err != nil || upd.ID != resp.ID || upd.Content != "Paused" || upd.EditedTimestamp == nil {
		t.Fatalf("updated %+v %v", upd, err)
	}

	// Deferred answer, then an edit of @original.
	slow, err := srv.InvokeCommand(ctx, w.guild, w.text, w.bob, "slow")
	if err != nil {
		t.Fatal(err)
	}
	ic = recvT(t, ev.interactions, "slow INTERACTION_CREATE")
	if err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral},
	}); err != nil {
		t.Fatal(err)
	}
	cb, err := slow.WaitCallback(ctx)
	if err != nil || cb.Type != CallbackDeferredChannelMessage {
		t.Fatalf("callback %+v %v", cb, err)
	}
	content := "Done after a while"
	if _, err := dg.InteractionResponseEdit(ic.Interaction, &discordgo.WebhookEdit{Content: &content}); err != nil {
		t.Fatal(err)
	}
	done, err := slow.WaitResponse(ctx)
	if err != nil || done.Content != content || !done.Ephemeral() || done.Flags&FlagLoading != 0 {
		t.Fatalf("deferred response %+v %v", done, err)
	}
	if got, err := dg.InteractionResponse(ic.Interaction); err != nil || got.Content != content {
		t.Fatalf("GET @original %+v %v", got, err)
	}

	// Autocomplete.
	ac, err := srv.Autocomplete(ctx, w.guild, w.text, w.alice, "play", StringOption("query", "nev").Focus())
	if err != nil {
		t.Fatal(err)
	}
	ic = recvT(t, ev.interactions, "autocomplete")
	if ic.Type != discordgo.InteractionApplicationCommandAutocomplete || !ic.ApplicationCommandData().Options[0].Focused {
		t.Fatalf("autocomplete %+v", ic.Interaction)
	}
	if err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: []*discordgo.ApplicationCommandOptionChoice{
			{Name: "Never Gonna Give You Up", Value: "https://example.com/ngg"},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	choices, err := ac.Choices(ctx)
	if err != nil || len(choices) != 1 || choices[0].StringValue() != "https://example.com/ngg" {
		t.Fatalf("choices %+v %v", choices, err)
	}

	// Errors in Discord's shape reach discordgo as RESTError with codes.
	_, err = dg.ChannelMessageSend("1", "hi")
	if !errors.As(err, &rerr) || rerr.Response.StatusCode != http.StatusNotFound || rerr.Message.Code != discordgo.ErrCodeUnknownChannel {
		t.Fatalf("unknown channel: %v", err)
	}
	_, err = dg.ChannelMessageSend(w.text, strings.Repeat("a", 2001))
	if !errors.As(err, &rerr) || rerr.Response.StatusCode != http.StatusBadRequest || rerr.Message.Code != discordgo.ErrCodeInvalidFormBody {
		t.Fatalf("2001 chars: %v", err)
	}
	sent, err := dg.ChannelMessageSend(w.text, "announcement")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := srv.WaitMessage(ctx, w.text, func(m *Message) bool { return m.Content == "announcement" }); err != nil || m.ID != sent.ID {
		t.Fatalf("recorded %+v %v", m, err)
	}

	// Voice: op 4 → VOICE_STATE_UPDATE (new session) + VOICE_SERVER_UPDATE.
	if err := dg.ChannelVoiceJoinManual(w.guild, w.vc, false, true); err != nil {
		t.Fatal(err)
	}
	var botState *discordgo.VoiceStateUpdate
	for botState == nil {
		vs := recvT(t, ev.voiceState, "bot VOICE_STATE_UPDATE")
		if vs.UserID == srv.BotID() {
			botState = vs
		}
	}
	vsu := recvT(t, ev.voiceServer, "VOICE_SERVER_UPDATE")
	grants := w.voice.all()
	last := grants[len(grants)-1]
	if botState.ChannelID != w.vc || !botState.SelfDeaf || botState.SessionID == "" ||
		vsu.GuildID != w.guild || vsu.Endpoint != "voice.local:4443" || vsu.Token == "" ||
		last.ServerID != w.guild || last.UserID != srv.BotID() || last.SessionID != botState.SessionID || last.Token != vsu.Token {
		t.Fatalf("voice state %+v server %+v grant %+v", botState.VoiceState, vsu, last)
	}
	// A new voice server: fresh token for the same session.
	if err := srv.ChangeVoiceServer(w.guild); err != nil {
		t.Fatal(err)
	}
	vsu2 := recvT(t, ev.voiceServer, "second VOICE_SERVER_UPDATE")
	if vsu2.Token == vsu.Token || vsu2.Endpoint != vsu.Endpoint {
		t.Fatalf("changed voice server %+v after %+v", vsu2, vsu)
	}
	// Moved by a moderator, then kicked.
	if err := srv.MoveUser(w.guild, srv.BotID(), w.stage); err != nil {
		t.Fatal(err)
	}
	if vs := recvT(t, ev.voiceState, "moved"); vs.UserID != srv.BotID() || vs.ChannelID != w.stage || vs.SessionID != botState.SessionID || !vs.Suppress {
		t.Fatalf("moved %+v", vs.VoiceState)
	}
	if err := srv.DisconnectUser(w.guild, srv.BotID()); err != nil {
		t.Fatal(err)
	}
	if vs := recvT(t, ev.voiceState, "kicked"); vs.UserID != srv.BotID() || vs.ChannelID != "" {
		t.Fatalf("kicked %+v", vs.VoiceState)
	}

	// Resume after the socket drops; an event during the gap is replayed
	// (discordgo waits a second before reconnecting; on a loaded machine
	// the test may only see the resumed state, and the event then arrives
	// live; TestGatewayResumeReplaysMissedEvents checks replay exactly).
	before := srv.Sessions()
	if srv.DropConnections(-1) != 1 {
		t.Fatal("no connection to drop")
	}
	if _, err := srv.WaitSessions(ctx, func(ss []SessionInfo) bool {
		return len(ss) == 1 && (!ss[0].Connected || ss[0].Resumes > 0)
	}); err != nil {
		t.Fatalf("%v: sessions %+v (before %+v), closes %v\nlog:\n%s", err, srv.Sessions(), before, srv.ClosesSent(), logBuf.String())
	}
	if _, err := srv.JoinVoice(w.guild, w.bob, w.vc); err != nil {
		t.Fatal(err)
	}
	recvT(t, ev.resumed, "RESUMED")
	if vs := recvT(t, ev.voiceState, "replayed"); vs.UserID != w.bob || vs.ChannelID != w.vc {
		t.Fatalf("replayed %+v", vs.VoiceState)
	}
	after := srv.Sessions()
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].Resumes != 1 || !after[0].Connected {
		t.Fatalf("sessions before %+v after %+v", before, after)
	}
	// The resumed connection carries interactions.
	again, err := srv.InvokeCommand(ctx, w.guild, w.text, w.alice, "slow")
	if err != nil {
		t.Fatal(err)
	}
	ic = recvT(t, ev.interactions, "after resume")
	if err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: 4, Data: &discordgo.InteractionResponseData{Content: "still here"}}); err != nil {
		t.Fatal(err)
	}
	if m, err := again.WaitResponse(ctx); err != nil || m.Content != "still here" {
		t.Fatalf("after resume %+v %v", m, err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
