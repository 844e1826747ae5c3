package discordtest

import (
	"strconv"
	"time"
)

// discordEpoch is the first millisecond of 2015, the origin of snowflake
// timestamps (https://discord.com/developers/docs/reference#snowflakes).
const discordEpoch = 1420070400000

// snowflakes issues unique IDs. Guild IDs come from their own worker (1)
// with a timestamp one millisecond after the previous guild's at least, so
// that consecutive guilds land on consecutive shards by the formula
// (guild_id >> 22) % num_shards; other IDs come from worker 0.
type snowflakes struct {
	lastMS, lastGuildMS int64
	inc                 int64
}

func (g *snowflakes) next() string {
	ms := time.Now().UnixMilli() - discordEpoch
	if ms < g.lastMS {
		ms = g.lastMS
	}
	if ms == g.lastMS && g.inc == 0xfff {
		ms++
	}
	if ms != g.lastMS {
		g.inc = 0
	} else {
		g.inc++
	}
	g.lastMS = ms
	return strconv.FormatUint(uint64(ms)<<22|uint64(g.inc), 10)
}

func (g *snowflakes) nextGuild() string {
	ms := time.Now().UnixMilli() - discordEpoch
	if ms <= g.lastGuildMS {
		ms = g.lastGuildMS + 1
	}
	g.lastGuildMS = ms
	const worker = 1 << 17
	return strconv.FormatUint(uint64(ms)<<22|worker, 10)
}

// ShardOf returns the shard that receives a guild's events: (guild_id >> 22)
// % shards (https://discord.com/developers/docs/topics/gateway#sharding).
// An unparsable ID belongs to shard 0.
func ShardOf(guildID string, shards int) int {
	id, err := strconv.ParseUint(guildID, 10, 64)
	if err != nil || shards <= 1 {
		return 0
	}
	return int((id >> 22) % uint64(shards))
}
