// qgrey-spp, greylisting at RCPT as a qmail-spp plugin, driven through the qmail-spp protocol
// (spp-harness.ts), with the per-process program and with qgreyd; both must give the same.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { QGREYLIST, ROOT, qgrey, run, tempDir } from '../helpers/util.js';
import { serverPath } from './wrapper-harness.js';
import { Qgreyd } from './qgreyd-harness.js';
import { ageTree, runPlugin, verdictOf, type Session } from './spp-harness.js';

const MODES = ['per-process', 'qgreyd'] as const;

for (const mode of MODES) {
  describe(`qgrey-spp (${mode})`, () => {
    const t = tempDir('qgrey-spp-');
    const rcpt = join(t.path, 'rcpt');
    const lists = join(t.path, 'lists');
    const control = join(t.path, 'greylisting');
    let qgreyd: Qgreyd | null = null;
    const tree = join(t.path, 'tree');
    const base: Record<string, string> = { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: lists, GLCONFIGFILE: control, QGREY_SECRET: '', JGREYLIST_DIR: tree };

    before(async () => {
      mkdirSync(rcpt, { mode: 0o700 });
      mkdirSync(lists);
      mkdirSync(tree, { mode: 0o700 });
      // the guide's file, with a delay of 5 minutes and a window of 60
      writeFileSync(control, 'mysql_default_file=control/mysql.cnf\nblock_expire=5\nrecord_expire=60\nrecord_expire_good=36\nloglevel=4\n');
      if (mode === 'qgreyd') {
        qgreyd = await Qgreyd.start(t.path, { JGREYLIST_DIR: join(t.path, 'tree'), QGREY_LISTDIR: lists, QGREY_RCPT_DIR: rcpt });
        Object.assign(base, qgreyd.clientEnv);
      }
    });
    after(async () => {
      if (qgreyd !== null) {
        const r = await qgreyd.stop();
        assert.deepEqual(r, { code: 0, signal: null }, qgreyd.log);
        // only the broken-store test names other directories (192.0.2.102)
        assert.deepEqual(qgreyd.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning|(?!192\.0\.2\.102:).*left to)/.test(l)), []);
      }
      t[Symbol.dispose]();
    });

    const plugin = async (s: Session) => {
      const r = await runPlugin(s, base);
      assert.equal(r.code, 0, r.log.join('\n'));
      assert.deepEqual(
        r.log.filter((l) => l.includes('fallback')),
        [],
        'no fallback',
      );
      return r;
    };

    it('a new triplet is deferred with E451, again before the delay, passed after it, known later', async () => {
      const s = { ip: '192.0.2.7', from: '<alice@sender.example>', to: '<bob@example.net>' };
      const r1 = await plugin(s);
      assert.equal(verdictOf(r1), 'E451');
      assert.deepEqual(r1.commands, [{ cmd: 'E', arg: '451 greylisted, please try again later (#4.7.1)' }]);
      assert.equal(r1.log.length, 1);
      assert.match(r1.log[0]!, /^qgrey-spp\[[0-9]+\]: 192\.0\.2\.7: RCPT GREY new <alice@sender\.example> -> <bob@example\.net>$/);
      assert.equal(verdictOf(await plugin(s)), 'E451');
      assert.match((await plugin(s)).log[0]!, /RCPT GREY too soon/);
      // four minutes later: still too soon (block_expire=5)
      assert.equal(ageTree(rcpt, 240), 1);
      assert.equal(verdictOf(await plugin(s)), 'E451');
      ageTree(rcpt, 61);
      const ok = await plugin(s);
      assert.equal(verdictOf(ok), '', 'passed: no command, so the next plugin runs');
      assert.match(ok.log[0]!, /: RCPT OK passed </);
      assert.match((await plugin(s)).log[0]!, /: RCPT OK known </);
      // another recipient is another triplet
      assert.equal(verdictOf(await plugin({ ...s, to: '<carol@example.net>' })), 'E451');
    });

    it('qgrey check --from --to says what the plugin would answer, and changes nothing', async () => {
      const s = { ip: '192.0.2.60', from: 'check@sender.example', to: 'bob@example.net' };
      const env = { JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, QGREY_RCPT_DIR: rcpt, GLCONFIGFILE: control };
      const before = qgrey(['check', s.ip, '--from', s.from, '--to', s.to], { env });
      assert.equal(before.code, 0, before.stderr);
      assert.match(before.stdout, /^  RCPT <check@sender\.example> -> <bob@example\.net> \(qgrey-spp\): RCPT GREY new\n    triplet: 192\.0\.2\.0\/24 <check@sender\.example> -> <bob@example\.net>\n      file: \S+\n    none: the next RCPT is a new triplet$/m);
      await plugin(s);
      const j = JSON.parse(qgrey(['check', s.ip, '--json', '--from', s.from, '--to', s.to], { env }).stdout) as { rcpt: { decision: string; triplet: { blocked: number } } };
      assert.deepEqual([j.rcpt.decision, j.rcpt.triplet.blocked], ['RCPT GREY too soon', 1]);
      assert.match((await plugin(s)).log[0]!, /RCPT GREY too soon/, 'the check recorded nothing');
    });

    it('a deferred triplet retried after the window starts again', async () => {
      const s = { ip: '198.51.100.9', from: 'late@sender.example', to: 'bob@example.net' };
      assert.equal(verdictOf(await plugin(s)), 'E451');
      ageTree(rcpt, 3601);
      const r = await plugin(s);
      assert.equal(verdictOf(r), 'E451');
      assert.match(r.log[0]!, /RCPT GREY new/);
    });

    it('a passed triplet unseen for record_expire_good days is greylisted again', async () => {
      const s = { ip: '203.0.113.50', from: 'old@sender.example', to: 'bob@example.net' };
      await plugin(s);
      ageTree(rcpt, 301);
      assert.equal(verdictOf(await plugin(s)), '');
      ageTree(rcpt, 36 * 86400 - 10);
      assert.equal(verdictOf(await plugin(s)), '', 'seen within its lifetime: still passed (and the lifetime starts again)');
      ageTree(rcpt, 36 * 86400 + 1);
      assert.match((await plugin(s)).log[0]!, /RCPT GREY new/);
    });

    it('VERP and BATV senders from one /24 make one triplet', async () => {
      const to = 'list-owner@example.net';
      assert.equal(verdictOf(await plugin({ ip: '192.0.2.30', from: '<prvs=1234abcdef=bounce-1001-77@lists.example>', to })), 'E451');
      ageTree(rcpt, 301);
      const r = await plugin({ ip: '192.0.2.31', from: '<Bounce-2002-78+x@Lists.Example>', to: '<List-Owner@Example.NET>' });
      assert.equal(verdictOf(r), '', r.log.join('\n'));
      assert.match(r.log[0]!, /RCPT OK passed/);
      // the next /24 is not the same client
      assert.equal(verdictOf(await plugin({ ip: '192.0.3.31', from: 'bounce-3@lists.example', to })), 'E451');
    });

    it('IPv6 clients are keyed by /64', async () => {
      const s = { ip: '2001:db8:5:6::1', from: 'v6@sender.example', to: 'bob@example.net' };
      assert.equal(verdictOf(await plugin(s)), 'E451');
      ageTree(rcpt, 301);
      assert.equal(verdictOf(await plugin({ ...s, ip: '2001:db8:5:6:ffff::2' })), '');
    });

    it('does nothing without GREYLISTING, for RELAYCLIENT and for authenticated clients: no command, no log line', async () => {
      const s = { ip: '192.0.2.99', from: 'x@sender.example', to: 'bob@example.net' };
      for (const env of [{ GREYLISTING: undefined }, { RELAYCLIENT: '' }, { SMTPAUTHUSER: 'bob@example.net' }]) {
        const r = await plugin({ ...s, env });
        assert.deepEqual([r.commands, r.log], [[], []], JSON.stringify(env));
      }
      // and nothing was recorded: the first real RCPT is new
      assert.match((await plugin(s)).log[0]!, /RCPT GREY new/);
    });

    it('never reads stdin: a pipe left open does not hold it', async () => {
      const r = await plugin({ ip: '192.0.2.100', from: 'stdin@sender.example', to: 'bob@example.net', stdin: 'pipe-open' });
      assert.equal(verdictOf(r), 'E451');
    });

    it('the lists: blacklisted E553 with the entry message, whitelisted passes', async () => {
      writeFileSync(join(lists, 'blacklist'), '203.0.113.66  never  manual  "Go away %"\n');
      writeFileSync(join(lists, 'whitelist'), '198.51.100.0/24  never  manual\n');
      const b = await plugin({ ip: '203.0.113.66', from: 'x@y.example', to: 'bob@example.net' });
      assert.deepEqual(b.commands, [{ cmd: 'E', arg: '553 DENIED Go away 203.0.113.66' }]);
      assert.match(b.log[0]!, /RCPT DENIED blacklisted/);
      const w = await plugin({ ip: '198.51.100.200', from: 'x@y.example', to: 'bob@example.net' });
      assert.equal(verdictOf(w), '');
      assert.match(w.log[0]!, /RCPT OK whitelisted/);
      rmSync(join(lists, 'blacklist'));
      rmSync(join(lists, 'whitelist'));
    });

    it('untrusted text is cleaned in the log line', async () => {
      const r = await plugin({ ip: '192.0.2.101', from: 'evil\u00e9\u0007 x@y.example', to: 'bob@example.net\r' });
      assert.equal(r.log.length, 1);
      assert.match(r.log[0]!, /^[\x20-\x7e]+$/);
      assert.match(r.log[0]!, /RCPT GREY new <evil\?\?\?x@y\.example> -> <bob@example\.net>$/);
    });

    it('a broken store: QGREY_FAIL=open lets the RCPT through, closed defers; one line either way', async () => {
      const s = { ip: '192.0.2.102', from: 'f@sender.example', to: 'bob@example.net' };
      const gone = join(t.path, 'no-such-dir');
      const open = await runPlugin({ ...s }, { ...base, QGREY_RCPT_DIR: gone });
      assert.equal(verdictOf(open), '');
      const closed = await runPlugin({ ...s, env: { QGREY_FAIL: 'closed' } }, { ...base, QGREY_RCPT_DIR: gone });
      assert.deepEqual(closed.commands, [{ cmd: 'E', arg: '451 temporary local problem, please try again later (#4.3.0)' }]);
      for (const r of [open, closed]) {
        assert.equal(r.code, 0);
        assert.equal(r.log.filter((l) => !l.includes('fallback')).length, 1, r.log.join('\n'));
        assert.match(r.log.at(-1)!, /FAIL (open|closed): unable to open the triplet directory .*no-such-dir: no such file or directory$/);
      }
      // a symlink for the directory is refused
      const link = join(t.path, 'link');
      rmSync(link, { force: true });
      (await import('node:fs')).symlinkSync(rcpt, link);
      const l = await runPlugin({ ...s }, { ...base, QGREY_RCPT_DIR: link });
      assert.match(l.log.at(-1)!, /FAIL open: the triplet directory .*link is not a directory \(a symbolic link is refused\)/);
      // qgreyd holds its own directory only: another one is left to the per-process program
      if (qgreyd !== null) await qgreyd.waitFor(/192\.0\.2\.102: RCPT left to the per-process program: another triplet directory: QGREY_RCPT_DIR '[^']*link'/);
    });

    /** the real qgreylist at connect, with the same tree and lists: its decision line */
    const connect = (ip: string): string => {
      const r = run(QGREYLIST, ['/bin/echo', 'next program'], { env: { PATH: serverPath(), JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, QGREY_SECRET: '', TCPREMOTEIP: ip }, input: 'QUIT\r\n' });
      const line = r.stderr.split('\n').find((l) => /^qgreylist\[[0-9]+\]: /.test(l));
      assert.ok(line !== undefined, r.stderr);
      return line.replace(/^qgreylist\[[0-9]+\]: /, '');
    };

    it('spamtraps: the trap RCPT is deferred quietly and the client blacklisted (trap:ADDRESS), so qgreylist refuses it at connect', async () => {
      writeFileSync(join(lists, 'traps'), '# traps\ntrap@example.net\n@spamtrap.example\n@.deep.example   # and subdomains\n');
      const before = Date.now() / 1000;
      assert.equal(connect('198.18.0.77'), '198.18.0.77: GREY first time');
      const r = await plugin({ ip: '198.18.0.77', from: 'spam@spammer.example', to: '<Trap@Example.NET>' });
      assert.deepEqual(r.commands, [{ cmd: 'E', arg: '451 greylisted, please try again later (#4.7.1)' }], 'deferred like any new triplet');
      assert.match(r.log[0]!, /^qgrey-spp\[[0-9]+\]: 198\.18\.0\.77: RCPT TRAP <spam@spammer\.example> -> <Trap@Example\.NET>; 198\.18\.0\.77 blacklisted for 86400s, source trap:trap@example\.net$/);
      const black = readFileSync(join(lists, 'blacklist'), 'latin1');
      const m = /^198\.18\.0\.77\t(\S+)\ttrap:trap@example\.net$/m.exec(black);
      assert.ok(m, black);
      const until = Date.parse(m[1]!) / 1000;
      assert.ok(until >= before + 86400 - 1 && until <= Date.now() / 1000 + 86401, m[1]);
      // at connect: refused by qgreylist; at RCPT: refused by the plugin
      assert.match(connect('198.18.0.77'), /^198\.18\.0\.77: DENY blacklisted/);
      assert.equal(verdictOf(await plugin({ ip: '198.18.0.77', from: 'spam@spammer.example', to: 'bob@example.net' })), 'E553');
      // a whole-domain trap and a subdomain one, with QGREY_TRAP_TIME; a second hit keeps one entry
      await plugin({ ip: '198.18.0.78', from: 's@x.example', to: 'anyone@spamtrap.example', env: { QGREY_TRAP_TIME: '3600' } });
      await plugin({ ip: '198.18.0.78', from: 's@x.example', to: 'x@a.deep.example', env: { QGREY_TRAP_TIME: '3600' } });
      const lines = readFileSync(join(lists, 'blacklist'), 'latin1').split('\n').filter((l) => l.startsWith('198.18.0.78\t'));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /\ttrap:@spamtrap\.example$/);
      // a network with passed triplets is not trapped
      const s = { ip: '198.18.2.40', from: 'good@sender.example', to: 'bob@example.net' };
      await plugin(s);
      ageTree(rcpt, 301);
      assert.equal(verdictOf(await plugin(s)), '');
      const g = await plugin({ ...s, to: 'trap@example.net' });
      assert.equal(verdictOf(g), 'E451');
      assert.match(g.log[0]!, /RCPT TRAP .*; not blacklisted: 1 triplet of 198\.18\.2\.0\/24 passed$/);
      assert.doesNotMatch(readFileSync(join(lists, 'blacklist'), 'latin1'), /^198\.18\.2\.40/m);
      rmSync(join(lists, 'traps'));
      rmSync(join(lists, 'blacklist'));
    });

    it('auto-whitelisting: a network that passed QGREY_AWL triplets gets a tree entry, and qgreylist knows it at connect', async () => {
      const env = { QGREY_AWL: '3' };
      assert.equal(connect('198.18.1.150'), '198.18.1.150: GREY first time');
      rmSync(join(tree, '198/018/001'));
      const lines: string[] = [];
      for (const to of ['a@example.net', 'b@example.net', 'c@example.net']) {
        await plugin({ ip: '198.18.1.150', from: 'news@sender.example', to, env });
        ageTree(rcpt, 301);
        const r = await plugin({ ip: '198.18.1.151', from: 'news@sender.example', to, env });
        assert.equal(verdictOf(r), '');
        lines.push(r.log[0]!);
      }
      assert.doesNotMatch(lines[1]!, /auto-whitelisted/);
      assert.match(lines[2]!, /RCPT OK passed <news@sender\.example> -> <c@example\.net>; 198\.18\.1\.0\/24 auto-whitelisted after 3 triplets$/);
      // qgreylist, at connect, from another address of the network: known
      assert.equal(connect('198.18.1.9'), '198.18.1.9: OK known');
      // QGREY_AWL=0: never
      await plugin({ ip: '198.18.1.150', from: 'news@sender.example', to: 'd@example.net', env: { QGREY_AWL: '0' } });
    });

    if (mode === 'qgreyd') {
      it('qgreyd decided every RCPT and logged the same lines', async () => {
        const r = await plugin({ ip: '192.0.2.103', from: 'q@sender.example', to: 'bob@example.net' });
        await qgreyd!.waitFor(r.log[0]!);
      });
    }
  });
}

describe('qgrey-spp without qgreyd answering', () => {
  it('a qgreyd that is down: one fallback line, then the per-process decision', async () => {
    using t = tempDir('qgrey-spp-down-');
    const rcpt = join(t.path, 'rcpt');
    mkdirSync(rcpt);
    const secret = join(t.path, 'secret');
    writeFileSync(secret, 'test-secret-0123456789abcdef\n', { mode: 0o400 });
    const r = await runPlugin(
      { ip: '192.0.2.7', from: 'a@b.example', to: 'c@d.example' },
      { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: join(t.path, 'lists'), GLCONFIGFILE: join(t.path, 'none'), QGREY_SECRET: secret, QGREY_SERVER: '127.0.0.1:1' },
    );
    assert.equal(verdictOf(r), 'E451');
    assert.equal(r.log.length, 2);
    assert.match(r.log[0]!, /^qgrey-spp\[[0-9]+\]: 192\.0\.2\.7: qgreyd: fallback: unable to connect to 127\.0\.0\.1:1; deciding here$/);
    assert.match(r.log[1]!, /RCPT GREY new/);
  });

  it('the per-process bundle holds core, store, spp, the SPF flattener and the text and config helpers of the wrapper only; ioredis only as the lazy import of the Redis store', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist/spp-bundle.meta.json'), 'utf8')) as Metafile;
    for (const [file, input] of Object.entries(meta.inputs)) {
      assert.match(file, /^dist\/src\/(?:spp|core|store|wrapper\/(?:text|config)\.js$|dns\/(?:spf|resolve)\.js$)/, file);
      for (const imp of input.imports) {
        if (imp.external !== true) continue;
        // the Redis client: only lazily, only from the Redis store's module (QGREY_STORE set)
        if (imp.path === 'ioredis' && file === 'dist/src/store/redis.js' && imp.kind === 'dynamic-import') continue;
        assert.match(imp.path, /^node:/, `${file} imports ${imp.path}`);
      }
    }
  });
});

describe('qgrey-spp(8)', () => {
  it('names every variable the plugin and its client read, and --help runs without a session', () => {
    const page = readFileSync(join(ROOT, 'man/qgrey-spp.8'), 'utf8');
    const documented = new Set([...page.matchAll(/^\.It Ev ([A-Z0-9_]+)(?: , ([A-Z0-9_]+))?/gm)].flatMap((m) => [m[1]!, m[2]].filter((x) => x !== undefined)));
    const config = readFileSync(join(ROOT, 'src/spp/rcpt.ts'), 'utf8');
    const client = readFileSync(join(ROOT, 'bin/qgrey-spp'), 'utf8');
    const read = new Set([
      ...[...config.matchAll(/env\.([A-Z0-9_]+)/g)].map((m) => m[1]!),
      ...[...client.matchAll(/\$\{?!?([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!).filter((v) => v !== 'EUID' && v !== 'PPID'),
      'QGREY_LISTDIR', // through listDir() of src/store/lists.ts
    ]);
    read.delete('QGREY_'); // "${!QGREY_@}": every QGREY_ variable is sent to qgreyd
    read.delete('JGREYLIST'); // "${!JGREYLIST@}", the same
    assert.deepEqual([...read].filter((v) => !documented.has(v)).sort(), []);
  });
});
