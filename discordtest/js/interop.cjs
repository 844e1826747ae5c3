// interop.cjs: a Discord bot written with @discordjs/ws and @discordjs/rest
// (code nobody on this project wrote) run against discordtest. It registers
// a /ping command, connects to the gateway, prints one JSON line per
// milestone on stdout, answers the first /ping interaction through REST
// with a message and a follow-up, then exits.
//
// Environment: DISCORDTEST_API (https://127.0.0.1:port/api),
// DISCORDTEST_TOKEN, DISCORDTEST_COMPRESS=1 for zlib-stream transport
// compression, NODE_EXTRA_CA_CERTS for the test's certificate authority,
// NODE_PATH pointing at tools/node/node_modules.
'use strict';

const { WebSocketManager, WebSocketShardEvents, CompressionMethod } = require('@discordjs/ws');
const { REST } = require('@discordjs/rest');
const {
	GatewayDispatchEvents,
	GatewayIntentBits,
	InteractionResponseType,
	MessageFlags,
	Routes,
} = require('discord-api-types/v10');

function say(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
	const token = process.env.DISCORDTEST_TOKEN;
	const rest = new REST({ api: process.env.DISCORDTEST_API, version: '10', retries: 0 }).setToken(token);

	const me = await rest.get(Routes.user('@me'));
	const registered = await rest.put(Routes.applicationCommands(me.id), {
		body: [{ name: 'ping', description: 'Answers pong', options: [{ type: 3, name: 'word', description: 'Echoed back', required: true }] }],
	});
	say({ event: 'registered', count: registered.length, id: registered[0].id });

	const manager = new WebSocketManager({
		token,
		intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates,
		rest,
		compression: process.env.DISCORDTEST_COMPRESS === '1' ? CompressionMethod.ZlibNative : null,
	});

	let done = false;
	manager.on(WebSocketShardEvents.Error, (err) => say({ event: 'error', message: String(err && err.message) }));
	manager.on(WebSocketShardEvents.Dispatch, async (payload) => {
		try {
			switch (payload.t) {
				case GatewayDispatchEvents.Ready:
					say({ event: 'ready', session: payload.d.session_id, user: payload.d.user.id, guilds: payload.d.guilds.length });
					break;
				case GatewayDispatchEvents.GuildCreate:
					say({ event: 'guild', id: payload.d.id, channels: payload.d.channels.length, members: payload.d.members.length });
					break;
				case GatewayDispatchEvents.InteractionCreate: {
					if (done) return;
					done = true;
					const i = payload.d;
					const word = i.data.options.find((o) => o.name === 'word').value;
					say({ event: 'interaction', id: i.id, user: i.member.user.id, word });
					await rest.post(Routes.interactionCallback(i.id, i.token), {
						body: { type: InteractionResponseType.ChannelMessageWithSource, data: { content: `pong ${word}`, embeds: [{ title: 'from discord.js', description: i.member.user.username }] } },
						auth: false,
					});
					await rest.post(Routes.webhook(i.application_id, i.token), {
						body: { content: 'follow-up from discord.js', flags: MessageFlags.Ephemeral },
						query: new URLSearchParams({ wait: 'true' }),
						auth: false,
					});
					let rejected = 0;
					try {
						await rest.post(Routes.channelMessages('1'), { body: { content: 'x' } });
					} catch (err) {
						rejected = err.code;
					}
					say({ event: 'answered', unknownChannelCode: rejected });
					await manager.destroy();
					process.exit(0);
				}
			}
		} catch (err) {
			say({ event: 'error', message: String(err && err.stack) });
			process.exit(1);
		}
	});
	await manager.connect();
}

main().catch((err) => {
	say({ event: 'error', message: String(err && err.stack) });
	process.exit(1);
});
