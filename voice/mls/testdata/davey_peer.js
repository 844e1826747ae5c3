// A line-oriented JSON driver for @snazzah/davey (DAVE on OpenMLS), used by
// interop_test.go: each input line is a command, each output line its result.
'use strict';
const readline = require('readline');
const davey = require('@snazzah/davey');

const sessions = new Map();
const hex = (b) => (b ? Buffer.from(b).toString('hex') : null);
const buf = (h) => Buffer.from(h, 'hex');

function run(cmd) {
  const s = sessions.get(cmd.name);
  switch (cmd.op) {
    case 'new': {
      const n = new davey.DAVESession(1, cmd.user, cmd.channel);
      sessions.set(cmd.name, n);
      return {};
    }
    case 'externalSender':
      s.setExternalSender(buf(cmd.data));
      return {};
    case 'keyPackage':
      return { data: hex(s.getSerializedKeyPackage()) };
    case 'proposals': {
      const r = s.processProposals(cmd.revoke ? 1 : 0, buf(cmd.data), cmd.users || null);
      return { commit: hex(r.commit), welcome: hex(r.welcome) };
    }
    case 'commit':
      s.processCommit(buf(cmd.data));
      return {};
    case 'welcome':
      s.processWelcome(buf(cmd.data));
      return {};
    case 'state':
      return {
        epoch: s.epoch === null ? null : Number(s.epoch),
        auth: hex(s.getEpochAuthenticator()),
        users: s.getUserIds(),
        leaf: s.ownLeafIndex,
      };
    default:
      throw new Error('unknown op ' + cmd.op);
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  let out;
  try {
    out = { ok: true, ...run(JSON.parse(line)) };
  } catch (e) {
    out = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
