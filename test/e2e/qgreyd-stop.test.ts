// qgreyd stopped in the middle of a load: 300 SMTP sessions through the real tcpserver and
// bin/qgreylist, 50 at a time; after the first 100 have ended, qgreyd gets SIGTERM (svc -d).
// It must finish what it was asked and exit 0; every session must still get its right answer
// (the later ones through the per-process fallback, each saying so in the log), the tree must
// be exact, and no process may be left: no decision program, no qgreyd, no child of tcpserver.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { parseBody } from '../../src/core/logline.js';
import { Server, session, sleep } from './wrapper-harness.js';
import { Qgreyd } from './qgreyd-harness.js';

const tmp = tempDir('qgreyd-stop-');
const TREE = join(tmp.path, 'tree');
const LISTS = join(tmp.path, 'lists');
const REC = join(tmp.path, 'standin');
const pad = (n: number) => String(n).padStart(3, '0');
const SEEDED_AGO = 3600;
let srv: Server;
let qd: Qgreyd;

type Kind = 'grey' | 'known' | 'white';

function plan(): { from: string; kind: Kind }[] {
  const p: { from: string; kind: Kind }[] = [];
  for (let i = 0; i < 200; i++) p.push({ from: `127.110.${i}.1`, kind: 'grey' });
  for (let k = 0; k < 25; k++) for (let h = 1; h <= 2; h++) p.push({ from: `127.210.${k}.${h}`, kind: 'known' });
  for (let k = 0; k < 50; k++) p.push({ from: `127.211.${k}.1`, kind: 'white' });
  let seed = 4242;
  for (let i = p.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function entries(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(TREE, rel))) {
      const r = rel === '' ? n : rel + '/' + n;
      if (lstatSync(join(TREE, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Live processes whose command line names `needle`. */
function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1');
      if (cmd.includes(needle) && readFileSync(`/proc/${d}/environ`, 'latin1').includes(tmp.path)) found.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return found;
}

before(async () => {
  mkdirSync(TREE, { mode: 0o700 });
  mkdirSync(LISTS);
  mkdirSync(REC);
  writeFileSync(join(LISTS, 'whitelist'), '127.211.0.0/16 never manual\n');
  const then = Date.now() / 1000 - SEEDED_AGO;
  mkdirSync(join(TREE, '127/210'), { recursive: true, mode: 0o700 });
  for (let k = 0; k < 25; k++) {
    writeFileSync(join(TREE, '127/210', pad(k)), '', { mode: 0o600 });
    utimesSync(join(TREE, '127/210', pad(k)), then, then);
  }
  qd = await Qgreyd.start(tmp.path, { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS });
  srv = await Server.start({ env: { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, STANDIN_DIR: REC, ...qd.clientEnv }, limit: 60 });
});

after(async () => {
  await srv?.stop();
  await qd?.stop();
  tmp[Symbol.dispose]();
});

it('SIGTERM to qgreyd after 100 of 300 sessions: it exits 0, every session still gets its answer, the tree is exact', async () => {
  const sessions = plan();
  const results = new Array<Awaited<ReturnType<typeof session>> | Error>(sessions.length);
  let next = 0;
  let ended = 0;
  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < sessions.length) {
        const i = next++;
        try {
          results[i] = await session(srv.port, sessions[i]!.from, 60000);
        } catch (err) {
          results[i] = err as Error;
        }
        if (++ended === 100) stopped = qd.stop();
      }
    }),
  );
  assert.ok(stopped !== null);
  assert.deepEqual(await stopped, { code: 0, signal: null }, qd.log);
  assert.match(qd.log, /^qgreyd: SIGTERM: finishing [0-9]+ connections?, then stopping$/m);
  assert.match(qd.log, /^qgreyd: stopped after [0-9]+ decisions$/m);

  const wrong: string[] = [];
  sessions.forEach((s, i) => {
    const r = results[i]!;
    if (r instanceof Error) return wrong.push(`${s.from}: ${r.message}`);
    const ok =
      s.kind === 'grey'
        ? r.greeting === '220 rblsmtpd.local' && r.rcpt === '451 GREYLIST Try again later.' && r.end === '221 rblsmtpd.local'
        : r.greeting === '220 standin.example ESMTP' && r.rcpt === '250 ok' && /^250 ok [0-9]+ qp [0-9]+$/.test(r.data ?? '') && r.end === '221 standin.example';
    if (!ok) wrong.push(`${s.from} (${s.kind}): ${JSON.stringify(r)}`);
  });
  assert.deepEqual(wrong, []);

  // the tree: the 25 seeded entries (revisited, first seen kept), one per greylisted network
  const expected = new Set<string>();
  for (let k = 0; k < 25; k++) expected.add(`127/210/${pad(k)}`);
  for (let i = 0; i < 200; i++) expected.add(`127/110/${pad(i)}`);
  assert.deepEqual(entries(), [...expected].sort());
  for (let k = 0; k < 25; k++) {
    const st = statSync(join(TREE, '127/210', pad(k)));
    assert.ok(st.atimeMs / 1000 > Date.now() / 1000 - 300, 'known entries were revisited');
    assert.ok(st.mtimeMs / 1000 < Date.now() / 1000 - SEEDED_AGO + 5, 'first seen kept');
  }

  // one decision line per session; each was decided by qgreyd or, after a fallback line, here
  for (let i = 0; i < 100 && !srv.log.includes('status: 0/60\n'); i++) await sleep(20);
  const decidedBy = new Map<number, string>();
  const counts = new Map<string, number>();
  for (const l of srv.logLines()) {
    const e = parseBody(l);
    if (e.kind !== 'decision') continue;
    counts.set(e.decision, (counts.get(e.decision) ?? 0) + 1);
    assert.ok(!decidedBy.has(e.pid!), `two decisions for pid ${e.pid}`);
    decidedBy.set(e.pid!, l);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'GREY first time': 200, 'OK known': 50, 'OK whitelisted': 50 });
  const byQgreyd = new Set(qd.decisionLines());
  const fellBack = new Set(
    srv
      .logLines()
      .filter((l) => / qgreyd: fallback: /.test(l))
      .map((l) => Number(/^qgreylist\[([0-9]+)\]/.exec(l)![1])),
  );
  let here = 0;
  for (const [pid, line] of decidedBy) {
    if (byQgreyd.has(line)) assert.ok(!fellBack.has(pid), `pid ${pid}: decided by qgreyd and fell back`);
    else {
      assert.ok(fellBack.has(pid), `pid ${pid}: decided without qgreyd and without a fallback line: ${line}`);
      here++;
    }
  }
  assert.ok(byQgreyd.size >= 100, `qgreyd decided ${byQgreyd.size}`);
  assert.ok(here >= 100, `the fallback decided ${here}`);
  assert.equal(byQgreyd.size + here, 300);

  // nothing left running
  for (let i = 0; i < 100 && srv.children().length > 0; i++) await sleep(20);
  assert.deepEqual(srv.children(), []);
  assert.deepEqual(processesWith('dist/src/wrapper/'), []);
  assert.deepEqual(processesWith('bin/qgreyd'), []);
  console.log(`# qgreyd decided ${byQgreyd.size}, the fallback ${here}`);
});
