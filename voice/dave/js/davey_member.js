// davey_member.js plays DAVE group members with @snazzah/davey (DAVE on
// OpenMLS) for the Go interop tests in voice/dave. It reads one JSON command
// per line on stdin and writes one JSON reply per line on stdout; binary
// values travel as hex. Each command names a member ("name"), so one process
// holds many members.
'use strict';
const readline = require('readline');
const davey = require('@snazzah/davey');

const members = new Map();
const toHex = (b) => (b ? Buffer.from(b).toString('hex') : '');
const fromHex = (h) => Buffer.from(h || '', 'hex');

const handlers = {
  create(c) {
    members.set(c.name, new davey.DAVESession(1, c.user, c.channel));
    return {};
  },
  reinit(c, m) {
    m.reinit(1, c.user, c.channel);
    return {};
  },
  externalSender(c, m) {
    m.setExternalSender(fromHex(c.data));
    return {};
  },
  keyPackage(c, m) {
    return { data: toHex(m.getSerializedKeyPackage()) };
  },
  proposals(c, m) {
    const r = m.processProposals(c.revoke ? 1 : 0, fromHex(c.data), c.users);
    return { commit: toHex(r.commit), welcome: toHex(r.welcome) };
  },
  commit(c, m) {
    m.processCommit(fromHex(c.data));
    return {};
  },
  welcome(c, m) {
    m.processWelcome(fromHex(c.data));
    return {};
  },
  passthrough(c, m) {
    m.setPassthroughMode(!!c.on, c.expiry);
    return {};
  },
  encrypt(c, m) {
    return { data: toHex(m.encryptOpus(fromHex(c.data))) };
  },
  decrypt(c, m) {
    return { data: toHex(m.decrypt(c.from, davey.MediaType.AUDIO, fromHex(c.data))) };
  },
  state(c, m) {
    return {
      epoch: m.epoch === null ? -1 : Number(m.epoch),
      auth: toHex(m.getEpochAuthenticator()),
      code: m.ready ? m.voicePrivacyCode : '',
      users: m.getUserIds(),
      ready: m.ready,
    };
  },
};

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  let reply;
  try {
    const c = JSON.parse(line);
    const h = handlers[c.op];
    if (!h) throw new Error('unknown op ' + c.op);
    const m = members.get(c.name);
    if (!m && c.op !== 'create') throw new Error('unknown member ' + c.name);
    reply = { ok: true, ...h(c, m) };
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
