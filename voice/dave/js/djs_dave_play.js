'use strict';
// djs_dave_play.js joins a local voice server with @discordjs/voice and its
// DAVE support (@snazzah/davey), waits until the call is end-to-end
// encrypted, then plays Opus packets and prints the voice privacy code it
// saw, for the DAVE end-to-end test in voice/voicetest.
//
// Environment:
//   QUAVER_NODE_MODULES  folder holding @discordjs/voice (tools/node/node_modules)
//   QUAVER_VOICE_ARGS    JSON: {guildId, channelId, userId, sessionId, token, endpoint, packets}
//                        packets is a file of [u16 big-endian length][Opus packet]...
//   NODE_EXTRA_CA_CERTS  the voicetest CA, so wss:// verifies
// Prints one JSON line {"privacyCode": "..."} and exits 0 once every packet was played.
const path = require('node:path');
const fs = require('node:fs');
const { Readable } = require('node:stream');

const voice = require(path.join(process.env.QUAVER_NODE_MODULES, '@discordjs/voice'));
const args = JSON.parse(process.env.QUAVER_VOICE_ARGS);

function packets(file) {
  const buf = fs.readFileSync(file);
  const list = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    const n = buf.readUInt16BE(at);
    at += 2;
    list.push(buf.subarray(at, at + n));
    at += n;
  }
  return list;
}

// daveOf digs the DAVE session out of the connection's networking state.
function daveOf(conn) {
  const net = conn.state && conn.state.networking;
  return net && net.state && net.state.dave;
}

function until(cond, ms, what) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = setInterval(() => {
      if (cond()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - start > ms) {
        clearInterval(tick);
        reject(new Error('timed out waiting for ' + what));
      }
    }, 10);
  });
}

async function main() {
  let gateway;
  const conn = voice.joinVoiceChannel({
    channelId: args.channelId,
    guildId: args.guildId,
    selfDeaf: false,
    selfMute: false,
    daveEncryption: true,
    adapterCreator: (methods) => {
      gateway = methods;
      return { sendPayload: () => true, destroy: () => {} };
    },
  });
  conn.on('error', (e) => console.error('connection error:', e));
  gateway.onVoiceStateUpdate({
    guild_id: args.guildId, channel_id: args.channelId, user_id: args.userId, session_id: args.sessionId,
    deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false,
    request_to_speak_timestamp: null,
  });
  gateway.onVoiceServerUpdate({ guild_id: args.guildId, token: args.token, endpoint: args.endpoint });
  await voice.entersState(conn, voice.VoiceConnectionStatus.Ready, 20000);
  await until(() => {
    const d = daveOf(conn);
    return d && d.session && d.session.ready && d.lastTransitionId !== undefined;
  }, 20000, 'the DAVE group');
  const code = daveOf(conn).voicePrivacyCode;

  const player = voice.createAudioPlayer();
  conn.subscribe(player);
  player.play(voice.createAudioResource(Readable.from(packets(args.packets)), { inputType: voice.StreamType.Opus }));
  await voice.entersState(player, voice.AudioPlayerStatus.Playing, 10000);
  await voice.entersState(player, voice.AudioPlayerStatus.Idle, 120000);
  process.stdout.write(JSON.stringify({ privacyCode: code }) + '\n');
  conn.destroy();
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
