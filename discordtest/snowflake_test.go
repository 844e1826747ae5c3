package discordtest

import "testing"

func TestSnowflakesUniqueAndGuildsSpreadOverShards(t *testing.T) {
	var g snowflakes
	seen := map[string]bool{}
	for i := range 10000 {
		id := g.next()
		if i%3 == 0 {
			id = g.nextGuild()
		}
		if seen[id] {
			t.Fatalf("duplicate snowflake %s after %d", id, i)
		}
		seen[id] = true
	}
	for _, shards := range []int{2, 3, 16} {
		hit := map[int]bool{}
		for range shards {
			hit[shardByFormula(g.nextGuild(), shards)] = true
			g.next()
		}
		if len(hit) != shards {
			t.Errorf("%d consecutive guilds hit %d of %d shards", shards, len(hit), shards)
		}
	}
}
