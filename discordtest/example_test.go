package discordtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/quaverbot/quaver/discordtest"
)

// A bot written with discordgo runs against the local Discord by using the
// server's HTTP client (which sends discord.com requests to it) and its
// WebSocket dialer (which trusts its certificate authority).
func Example_discordgo() {
	srv := discordtest.New(discordtest.Config{})
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()
	guild := srv.AddGuild("demo")
	text, _ := srv.AddChannel(guild, discordtest.Channel{Name: "general", Type: discordtest.ChannelText})
	user := srv.AddUser(discordtest.User{Username: "listener"})
	_ = srv.AddMember(guild, user)

	dg, _ := discordgo.New("Bot " + srv.Token())
	dg.Client = srv.HTTPClient()
	dg.Dialer = srv.Dialer()
	dg.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) {
		_ = s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "pong"},
		})
	})
	if err := dg.Open(); err != nil {
		panic(err)
	}
	defer dg.Close()
	_, _ = dg.ApplicationCommandCreate(srv.ApplicationID(), "", &discordgo.ApplicationCommand{Name: "ping", Description: "Ping"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inv, _ := srv.InvokeCommand(ctx, guild, text, user, "ping")
	msg, err := inv.WaitResponse(ctx)
	fmt.Println(msg.Content, err)
}
