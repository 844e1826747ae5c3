package bot

import (
	"strconv"
	"sync/atomic"

	"github.com/bwmarrin/discordgo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quaverbot/quaver/player"
	"github.com/quaverbot/quaver/voice"
)

// Command outcomes, the values of quaver_commands_total's outcome label.
const (
	outcomeOK          = "ok"
	outcomeUserError   = "user_error"
	outcomeRateLimited = "rate_limited"
	outcomeError       = "error"
)

var outcomes = []string{outcomeOK, outcomeUserError, outcomeRateLimited, outcomeError}

// Voice connection states, the values of quaver_voice_connections' state label.
const (
	voiceConnecting int32 = iota
	voiceConnected
	voiceReconnecting
	voiceStopped
)

var voiceStateNames = [...]string{voiceConnecting: "connecting", voiceConnected: "connected", voiceReconnecting: "reconnecting"}

// voiceStateOf folds voice.Conn's states into the metric's three (stopped
// connections are not counted).
func voiceStateOf(s voice.State) int32 {
	switch s {
	case voice.StateConnecting:
		return voiceConnecting
	case voice.StateReady:
		return voiceConnected
	case voice.StateStopped:
		return voiceStopped
	}
	return voiceReconnecting // resuming, reconnecting, waiting for a new server
}

// metrics are the bot's Prometheus metrics. They exist (and count) without
// a Registerer; Config.Registerer exposes them.
type metrics struct {
	shardUp    *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	commands   *prometheus.CounterVec
	state      *stateCollector
}

func newMetrics(b *Bot) *metrics {
	m := &metrics{
		shardUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quaver_gateway_shard_up",
			Help: "1 while the shard's gateway session is connected (after READY or RESUMED), 0 otherwise.",
		}, []string{"shard"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quaver_gateway_reconnects_total",
			Help: "Times the shard's gateway connection was re-established after a disconnect.",
		}, []string{"shard"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quaver_commands_total",
			Help: "Slash commands handled, by command and outcome (ok, user_error, rate_limited, error).",
		}, []string{"command", "outcome"}),
		state: &stateCollector{b: b,
			guilds: prometheus.NewDesc("quaver_guilds", "Guilds on this process's shards.", nil, nil),
			players: prometheus.NewDesc("quaver_players",
				"Players that exist on this process (a guild's player lives until the process stops).", nil, nil),
			playing: prometheus.NewDesc("quaver_players_playing",
				"Players connected to voice with a track playing (not paused).", nil, nil),
			voice: prometheus.NewDesc("quaver_voice_connections",
				"The bot's voice connections by state (connecting, connected, reconnecting).", []string{"state"}, nil),
		},
	}
	for _, c := range commandTable {
		for _, o := range outcomes {
			m.commands.WithLabelValues(c.def.Name, o)
		}
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.shardUp, m.reconnects, m.commands, m.state}
}

// register registers every collector with r, or none.
func (m *metrics) register(r prometheus.Registerer) error {
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			for _, d := range done {
				r.Unregister(d)
			}
			return err
		}
		done = append(done, c)
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	for _, c := range m.collectors() {
		r.Unregister(c)
	}
}

// command counts one slash command; names the bot does not register are not
// counted, so the label stays bounded.
func (m *metrics) command(name, outcome string) {
	if _, ok := commandAccess[name]; !ok {
		return
	}
	m.commands.WithLabelValues(name, outcome).Inc()
}

// watchShard follows a shard session's gateway connection: discordgo emits
// Connect once READY or RESUMED arrived on a new connection and Disconnect
// when the connection closes (before it reconnects on its own).
func (b *Bot) watchShard(s *discordgo.Session, id int) {
	label := strconv.Itoa(id)
	up := b.met.shardUp.WithLabelValues(label)
	up.Set(0)
	reconnects := b.met.reconnects.WithLabelValues(label)
	var connected atomic.Bool // a connection was up before
	s.AddHandler(func(*discordgo.Session, *discordgo.Connect) {
		if connected.Swap(true) {
			reconnects.Inc()
		}
		up.Set(1)
	})
	s.AddHandler(func(*discordgo.Session, *discordgo.Disconnect) { up.Set(0) })
}

// stateCollector reports what the bot holds at scrape time.
type stateCollector struct {
	b                               *Bot
	guilds, players, playing, voice *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.guilds
	ch <- c.players
	ch <- c.playing
	ch <- c.voice
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	b.mu.Lock()
	sessions := make([]*discordgo.Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	players := make([]*player.Player, 0, len(b.players))
	for _, p := range b.players {
		players = append(players, p)
	}
	voices := make([]*guildVoice, 0, len(b.voices))
	for _, gv := range b.voices {
		voices = append(voices, gv)
	}
	b.mu.Unlock()
	guilds := 0
	for _, s := range sessions {
		if st := s.State; st != nil {
			st.RLock()
			guilds += len(st.Guilds)
			st.RUnlock()
		}
	}
	playing := 0
	for _, p := range players {
		if p.Status().State == player.StatePlaying {
			playing++
		}
	}
	var byState [len(voiceStateNames)]int
	for _, gv := range voices {
		if s := gv.state.Load(); s >= 0 && int(s) < len(byState) {
			byState[s]++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.guilds, prometheus.GaugeValue, float64(guilds))
	ch <- prometheus.MustNewConstMetric(c.players, prometheus.GaugeValue, float64(len(players)))
	ch <- prometheus.MustNewConstMetric(c.playing, prometheus.GaugeValue, float64(playing))
	for s, n := range byState {
		ch <- prometheus.MustNewConstMetric(c.voice, prometheus.GaugeValue, float64(n), voiceStateNames[s])
	}
}
