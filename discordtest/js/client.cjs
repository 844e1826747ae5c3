// client.cjs: a bot written with the full discord.js Client, run against
// discordtest. It waits for the client's ready event (all guilds loaded
// into its caches), registers /echo with application.commands.set, and
// answers: the command with deferReply + editReply carrying a button, the
// button with update. One JSON line per milestone on stdout.
//
// Environment as for interop.cjs.
'use strict';

const { Client, GatewayIntentBits, ActionRowBuilder, ButtonBuilder, ButtonStyle, Events } = require('discord.js');

function say(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

const client = new Client({
	intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
	rest: { api: process.env.DISCORDTEST_API, retries: 0 },
});

if (process.env.DISCORDTEST_DEBUG === '1') {
	client.on(Events.Debug, (m) => say({ event: 'debug', message: m }));
}

client.once(Events.ClientReady, async (c) => {
	try {
		const guild = c.guilds.cache.first();
		const voice = guild.channels.cache.filter((ch) => ch.isVoiceBased()).size;
		say({ event: 'ready', user: c.user.id, app: c.application.id, guilds: c.guilds.cache.size, channels: guild.channels.cache.size, voiceChannels: voice, voiceStates: guild.voiceStates.cache.size, members: guild.members.cache.size });
		const cmds = await c.application.commands.set([{ name: 'echo', description: 'Echo back', options: [{ type: 3, name: 'text', description: 'What to echo', required: true }] }]);
		say({ event: 'registered', count: cmds.size });
	} catch (err) {
		say({ event: 'error', message: String(err && err.stack) });
		process.exit(1);
	}
});

client.on(Events.InteractionCreate, async (interaction) => {
	try {
		if (interaction.isChatInputCommand()) {
			const text = interaction.options.getString('text');
			await interaction.deferReply();
			const row = new ActionRowBuilder().addComponents(new ButtonBuilder().setCustomId('again').setLabel('Again').setStyle(ButtonStyle.Primary));
			await interaction.editReply({ content: `echo: ${text}`, components: [row] });
			say({ event: 'answered', dj: interaction.memberPermissions.has('ManageChannels'), channel: interaction.channelId });
		} else if (interaction.isButton()) {
			await interaction.update({ content: `clicked ${interaction.customId} by ${interaction.user.username}`, components: [] });
			say({ event: 'clicked' });
			await client.destroy();
			process.exit(0);
		}
	} catch (err) {
		say({ event: 'error', message: String(err && err.stack) });
		process.exit(1);
	}
});

client.login(process.env.DISCORDTEST_TOKEN).catch((err) => {
	say({ event: 'error', message: String(err && err.stack) });
	process.exit(1);
});
