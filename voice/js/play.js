'use strict';
// Plays Opus packets into a voice server through @discordjs/voice, a client
// nobody in this project wrote, to check voicetest's fidelity.
//
// Environment:
//   QUAVER_NODE_MODULES  folder holding @discordjs/voice (tools/node/node_modules)
//   QUAVER_VOICE_ARGS    JSON: {guildId, channelId, userId, sessionId, token, endpoint, packets}
//                        packets is a file of [u16 big-endian length][Opus packet]...
//   NODE_EXTRA_CA_CERTS  the voicetest CA, so wss:// verifies
// Exits 0 after the player went idle (all packets sent), non-zero on error.
const path = require('node:path');
const fs = require('node:fs');
const { Readable } = require('node:stream');

const voice = require(path.join(process.env.QUAVER_NODE_MODULES, '@discordjs/voice'));
const args = JSON.parse(process.env.QUAVER_VOICE_ARGS);

function readPackets(file) {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let off = 0; off + 2 <= buf.length;) {
    const n = buf.readUInt16BE(off);
    off += 2;
    if (off + n > buf.length) throw new Error('truncated packet file');
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function main() {
  let methods;
  // A manual adapter: the main-gateway side is played by this script, which
  // feeds the voice state and server updates the test chose.
  const adapterCreator = (m) => {
    methods = m;
    return { sendPayload: () => true, destroy: () => {} };
  };
  const conn = voice.joinVoiceChannel({
    channelId: args.channelId, guildId: args.guildId, adapterCreator, selfDeaf: false, selfMute: false,
  });
  conn.on('error', (e) => console.error('connection error:', e));
  methods.onVoiceStateUpdate({
    guild_id: args.guildId, channel_id: args.channelId, user_id: args.userId, session_id: args.sessionId,
    deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false,
    request_to_speak_timestamp: null,
  });
  methods.onVoiceServerUpdate({ guild_id: args.guildId, token: args.token, endpoint: args.endpoint });
  await voice.entersState(conn, voice.VoiceConnectionStatus.Ready, 20000);

  const player = voice.createAudioPlayer();
  player.on('error', (e) => console.error('player error:', e));
  conn.subscribe(player);
  const resource = voice.createAudioResource(Readable.from(readPackets(args.packets)), {
    inputType: voice.StreamType.Opus,
  });
  player.play(resource);
  await voice.entersState(player, voice.AudioPlayerStatus.Playing, 10000);
  await voice.entersState(player, voice.AudioPlayerStatus.Idle, 120000);
  conn.destroy();
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
