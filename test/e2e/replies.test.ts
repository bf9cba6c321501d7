// The reply pairs (issue 15, RCPT mode): `qgrey whitelist outgoing` reads real-shaped
// qmail-smtpd and qmail-send lines and writes the (remote address, local sender) pairs into the
// list directory's replies file; qgrey-spp, driven through the qmail-spp protocol
// (spp-harness.ts), passes a reply from that remote address to that user at once, per process
// and through qgreyd. Strangers, the other direction, inbound lookalikes and bounces are still
// greylisted; an expired pair is too; --state carries the pairs to the next run. On the shared
// Redis store too (qgrey-spp keeps its triplets there; the pairs stay the list directory's file).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, tempDir } from '../helpers/util.js';
import { startDns, RECORDS, type DnsServer } from './dns-server.js';
import { logs, qlog, write } from './outgoing-logs.js';
import { Qgreyd } from './qgreyd-harness.js';
import { startRedis, type RedisServer } from './redis-harness.js';
import { runPlugin, verdictOf, type Session } from './spp-harness.js';

const NOW = Math.floor(Date.now() / 1000);
const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

let dns: DnsServer;
before(async () => {
  dns = await startDns([...RECORDS, 'txt-record=partner.test,"v=spf1 ip4:198.51.100.128/26 -all"']);
});
after(async () => {
  await dns.stop();
});

const MODES = ['per-process', 'qgreyd', 'per-process on Redis', 'qgreyd on Redis'] as const;

for (const mode of MODES) {
  describe(`reply pairs (${mode})`, () => {
    const t = tempDir('qgrey-replies-');
    const rcpt = join(t.path, 'rcpt');
    const lists = join(t.path, 'lists');
    const tree = join(t.path, 'tree');
    const control = join(t.path, 'greylisting');
    const state = join(t.path, 'outgoing.state');
    const rcpthosts = join(t.path, 'rcpthosts');
    const replies = join(lists, 'replies');
    const { smtpd, send } = logs(t.path);
    const base: Record<string, string> = { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: lists, GLCONFIGFILE: control, QGREY_SECRET: '', JGREYLIST_DIR: tree };
    const env: Record<string, string> = { QGREY_LISTDIR: lists };
    let qgreyd: Qgreyd | null = null;
    let redis: RedisServer | null = null;

    before(async () => {
      env.QGREY_DNS_SERVER = dns.server;
      mkdirSync(rcpt, { mode: 0o700 });
      mkdirSync(tree, { mode: 0o700 });
      writeFileSync(control, 'block_expire=5\nrecord_expire=60\nrecord_expire_good=36\n');
      writeFileSync(rcpthosts, 'ours.test\n');
      const at = NOW - 3600;
      write(join(smtpd, 'current'), [
        // alice, relayed from the office, writes to Bob (a +extension, upper case)
        [at, qlog({ from: 'Alice@ours.test', to: 'Bob+lists@Partner.TEST', relay: true, ip: '10.1.2.3' })],
        // carol, authenticated, her mail signed with BATV; the envelope sender is where the reply goes
        [at + 1, qlog({ kind: 'qlogreceived', from: 'prvs=1234abcd=carol@ours.test', to: 'dave@spf.test,frank@ours.test', auth: 'carol', qp: '7001' })],
        // an inbound lookalike: mail from outside, "from" one of ours, to a remote address (a forward)
        [at + 2, qlog({ from: 'eve@ours.test', to: 'mallory@partner.test', ip: '198.51.100.44' })],
        // a bounce relayed from the office: empty sender, no pair
        [at + 3, qlog({ from: '', to: 'victim@partner.test', relay: true, ip: '10.1.2.3' })],
        // a relayed sender not at our domains (--locals): the reply would not come here
        [at + 4, qlog({ from: 'outsider@elsewhere.test', to: 'oscar@partner.test', relay: true, ip: '10.1.2.3' })],
      ]);
      write(join(send, 'current'), [
        // webmail (a local injection): only qmail-send sees it
        [at + 10, 'new msg 1320'],
        [at + 10, 'info msg 1320: bytes 2210 from <erin@ours.test> qp 8801 uid 1004'],
        [at + 11, 'starting delivery 43: msg 1320 to remote ann@partner.test'],
        [at + 12, 'end msg 1320'],
      ]);
      if (mode.endsWith('on Redis')) {
        redis = await startRedis();
        base.QGREY_STORE = `${redis.url}/0`;
      }
      if (mode.startsWith('qgreyd')) {
        qgreyd = await Qgreyd.start(t.path, { JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, QGREY_RCPT_DIR: rcpt, ...(redis ? { QGREY_STORE: base.QGREY_STORE! } : {}) });
        Object.assign(base, qgreyd.clientEnv);
      }
    });
    after(async () => {
      if (qgreyd !== null) {
        const r = await qgreyd.stop();
        assert.deepEqual(r, { code: 0, signal: null }, qgreyd.log);
        assert.deepEqual(qgreyd.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning|.*left to)/.test(l)), []);
        assert.match(qgreyd.log, /^qgreyd: read \S+\/replies: 3 reply pairs$/m, 'qgreyd held the pairs');
      }
      await redis?.stop();
      t[Symbol.dispose]();
    });

    const plugin = async (s: Session) => {
      const r = await runPlugin(s, base);
      assert.equal(r.code, 0, r.log.join('\n'));
      assert.equal(r.log.length, 1, r.log.join('\n'));
      return r;
    };
    const triplets = () => readdirSync(rcpt).filter((d) => /^[0-9a-f]{2}$/.test(d)).reduce((n, d) => n + readdirSync(join(rcpt, d)).length, 0);

    it('whitelist outgoing writes the pairs of relayed and authenticated mail, normalised, out:DOMAIN, with --until', () => {
      const r = qgrey(['whitelist', 'outgoing', '--locals', rcpthosts, '--state', state, '--until', '2d', smtpd, send], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^whitelist outgoing: 3 reply pairs for qgrey-spp in ${replies.replace(/[/.]/g, '\\$&')} \\(3 added, 0 renewed, 0 removed\\)$`, 'm'));
      const text = readFileSync(replies, 'latin1');
      const body = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const until = body.map((l) => l.split('\t')[2]!);
      assert.equal(new Set(until).size, 1);
      const at = Date.parse(until[0]!) / 1000;
      assert.ok(Math.abs(at - (NOW + 2 * 86400)) < 120, until[0]);
      assert.deepEqual(body.map((l) => l.split('\t').filter((_, i) => i !== 2).join(' ')).sort(), [
        'ann@partner.test erin@ours.test out:partner.test',
        'bob@partner.test alice@ours.test out:partner.test',
        'dave@spf.test carol@ours.test out:spf.test',
      ]);
      assert.match(text, /^# qgrey replies: REMOTE LOCAL EXPIRY SOURCE/);
      assert.equal(statSync(replies).mode & 0o777, 0o644);
      const j = JSON.parse(qgrey(['whitelist', 'outgoing', '--locals', rcpthosts, '--dry-run', '--json', smtpd, send], { env }).stdout) as { replies: Record<string, unknown> };
      assert.deepEqual(j.replies, { file: replies, pairs: 3, added: 0, renewed: 3, removed: 0 });
    });

    it('a reply from the address our user wrote to passes at once, with no triplet; BATV and case do not matter', async () => {
      const before = triplets();
      for (const from of ['<bob@partner.test>', '<Bob@PARTNER.test>', '<prvs=0042beef=bob@partner.test>', '<bob+lists@partner.test>']) {
        const r = await plugin({ ip: '192.0.2.130', from, to: '<alice@ours.test>' });
        assert.equal(verdictOf(r), '', r.log[0]);
        assert.match(r.log[0]!, /^qgrey-spp\[[0-9]+\]: 192\.0\.2\.130: RCPT OK reply <.*> -> <alice@ours\.test>; pair of out:partner\.test$/);
      }
      assert.match((await plugin({ ip: '192.0.2.109', from: 'dave@spf.test', to: 'carol@ours.test' })).log[0]!, /RCPT OK reply/);
      assert.match((await plugin({ ip: '192.0.2.109', from: 'dave@spf.test', to: 'prvs=77aa=Carol@ours.test' })).log[0]!, /RCPT OK reply/);
      assert.match((await plugin({ ip: '192.0.2.200', from: 'ann@partner.test', to: 'erin@ours.test' })).log[0]!, /RCPT OK reply/, 'a qmail-send delivery of a local sender');
      assert.equal(triplets(), before, 'a reply makes no triplet');
      const c = qgrey(['check', '192.0.2.130', '--from', 'bob@partner.test', '--to', 'alice@ours.test'], { env: { ...env, ...base } });
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /^  RCPT <bob@partner\.test> -> <alice@ours\.test> \(qgrey-spp\): RCPT OK reply\n.*\n.*\n    reply pair: <bob@partner\.test> -> <alice@ours\.test>: no triplet needed\n      source out:partner\.test, expires \S+\n      file: \S*\/replies$/m);
    });

    it('a stranger to the same user, the same sender to another user, the other direction, lookalikes and bounces are greylisted', async () => {
      const cases: Session[] = [
        { ip: '192.0.2.131', from: 'stranger@partner.test', to: 'alice@ours.test' },
        { ip: '192.0.2.131', from: 'bob@partner.test', to: 'frank@ours.test' },
        { ip: '192.0.2.131', from: 'alice@ours.test', to: 'bob@partner.test' },
        { ip: '192.0.2.131', from: 'mallory@partner.test', to: 'eve@ours.test' },
        { ip: '192.0.2.131', from: 'oscar@partner.test', to: 'outsider@elsewhere.test' },
        { ip: '192.0.2.131', from: '', to: 'alice@ours.test' },
        { ip: '192.0.2.131', from: '<>', to: 'alice@ours.test' },
        { ip: '192.0.2.131', from: '"bob"@partner.test', to: 'alice@ours.test' },
      ];
      for (const [i, s0] of cases.entries()) {
        // each from a /24 of its own: '' and '<>' are one triplet
        const s = { ...s0, ip: `198.18.${10 + i}.1` };
        const r = await plugin(s);
        assert.equal(verdictOf(r), 'E451', `${s.from} -> ${s.to}: ${r.log[0]}`);
        assert.match(r.log[0]!, /: RCPT GREY new /);
      }
    });

    it('an expired pair no longer passes; the next run renews it from --state; a rewrite keeps the mode', async () => {
      const s = { ip: '192.0.2.140', from: 'bob@partner.test', to: 'alice@ours.test' };
      chmodSync(replies, 0o640);
      const old = readFileSync(replies, 'latin1');
      writeFileSync(replies, old.replace(/^(bob@partner\.test\talice@ours\.test\t)\S+/m, `$1${iso(NOW - 60)}`));
      const r1 = await plugin(s);
      assert.equal(verdictOf(r1), 'E451', r1.log[0]);
      assert.match(r1.log[0]!, /RCPT GREY new/);
      // nothing new in the logs: the pairs come from the state file, renewed for --until
      const r = qgrey(['whitelist', 'outgoing', '--locals', rcpthosts, '--state', state, '--until', '3d', smtpd, send], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^whitelist outgoing: 3 reply pairs for qgrey-spp in .* \(0 added, 3 renewed, 0 removed\)$/m);
      assert.match(r.stdout, /\(0 qmail-smtpd recipients, 0 qmail-send deliveries; 0 lines in 2 files\)/);
      const line = readFileSync(replies, 'latin1').split('\n').find((l) => l.startsWith('bob@partner.test\t'))!;
      assert.ok(Math.abs(Date.parse(line.split('\t')[2]!) / 1000 - (NOW + 3 * 86400)) < 120, line);
      assert.equal(statSync(replies).mode & 0o777, 0o640);
      const r2 = await plugin({ ...s, ip: '192.0.2.141' });
      assert.match(r2.log[0]!, /RCPT OK reply/);
    });

    it('--skip removes the pairs of a domain; a hand-written line in another spelling is not understood', async () => {
      const hand = readFileSync(replies, 'latin1') + `Kim@Partner.test\tzoe@ours.test\tnever\tmanual\nkim@partner.test\tzoe@ours.test\tnever\tmanual\t# by hand\n`;
      writeFileSync(replies, hand);
      const r = qgrey(['whitelist', 'outgoing', '--locals', rcpthosts, '--state', state, '--skip', 'partner.test', smtpd, send], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^whitelist outgoing: 1 reply pair for qgrey-spp in .* \(0 added, 1 renewed, 2 removed\)$/m);
      const text = readFileSync(replies, 'latin1');
      assert.doesNotMatch(text, /out:partner\.test/);
      assert.match(text, /^Kim@Partner\.test\tzoe@ours\.test\tnever\tmanual\n/m, 'a line not understood is kept');
      assert.equal(verdictOf(await plugin({ ip: '192.0.2.150', from: 'bob@partner.test', to: 'alice@ours.test' })), 'E451');
      assert.match((await plugin({ ip: '192.0.2.150', from: 'kim@partner.test', to: 'zoe@ours.test' })).log[0]!, /RCPT OK reply <kim@partner\.test> -> <zoe@ours\.test>; pair of manual$/);
    });
  });
}
