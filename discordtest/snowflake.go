package discordtest

import (
	"strconv"
	"time"
)

// discordEpoch is the first millisecond of 2015, the origin of snowflake
// timestamps (https://discord.com/developers/docs/reference#snowflakes).
const discordEpoch = 1420070400000

// snowflakes issues unique IDs whose timestamp part strictly increases, one
// millisecond at least per ID, so that consecutive guilds land on different
// shards by the formula (guild_id >> 22) % num_shards.
type snowflakes struct {
	lastMS int64
	inc    int64
}

func (g *snowflakes) next() string {
	ms := time.Now().UnixMilli() - discordEpoch
	if ms <= g.lastMS {
		ms = g.lastMS + 1
	}
	g.lastMS = ms
	g.inc = (g.inc + 1) & 0xfff
	return strconv.FormatUint(uint64(ms)<<22|uint64(g.inc), 10)
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
