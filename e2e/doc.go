// Package e2e holds Quaver's "nothing lost" end-to-end tests: the bot as a
// separate process killed with SIGKILL and restarted, a Redis server killed
// and restarted under 50 playing guilds, and PostgreSQL cut off behind a TCP
// proxy. Everything is real: processes, sockets, the local Discord
// (discordtest), the local voice server (voicetest) and Redis/PostgreSQL
// servers. The package has no production code.
package e2e
