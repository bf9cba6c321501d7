// Load: 500 SMTP sessions through the real tcpserver and qgreylist, 50 at a time, from 400
// source addresses (loopback 127.x.y.z): 300 new class-C networks (greylisted), 50 known
// ones (3 sessions each, delivered), 50 whitelisted by the list file (delivered). Every session
// must get the right answer, the tree must hold exactly the expected entries, and no Node
// process may remain afterwards. It runs twice: here without qgreyd, and from
// qgreyd-load.test.ts with qgreyd up (which must then have decided every session).
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { parseBody } from '../../src/core/logline.js';
import { Server, session, sleep } from './wrapper-harness.js';
import { Decider } from './qgreyd-harness.js';

const tmp = tempDir('qgreylist-load-');
const TREE = join(tmp.path, 'tree');
const LISTS = join(tmp.path, 'lists');
const REC = join(tmp.path, 'standin');
const pad = (n: number) => String(n).padStart(3, '0');
let srv: Server;
const decider = new Decider();
const SEEDED_AGO = 3600;

type Kind = 'grey' | 'known' | 'white';
interface Plan {
  from: string;
  kind: Kind;
}

function plan(): Plan[] {
  const p: Plan[] = [];
  for (let i = 0; i < 300; i++) p.push({ from: `127.${100 + Math.floor(i / 200)}.${i % 200}.1`, kind: 'grey' });
  for (let k = 0; k < 50; k++) for (let h = 1; h <= 3; h++) p.push({ from: `127.200.${k}.${h}`, kind: 'known' });
  for (let k = 0; k < 50; k++) p.push({ from: `127.201.${k}.1`, kind: 'white' });
  // a fixed shuffle, so a failure can be replayed
  let seed = 12345;
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

/** Processes anywhere on the machine that run our decision program for this test's server. */
function ourNodeProcesses(): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1');
      if (!cmd.includes('dist/src/wrapper/main.js')) continue;
      if (readFileSync(`/proc/${d}/environ`, 'latin1').includes(`STANDIN_DIR=${REC}\0`)) found.push(Number(d));
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
  writeFileSync(join(LISTS, 'whitelist'), '127.201.0.0/16 never manual\n');
  const then = Date.now() / 1000 - SEEDED_AGO;
  for (let k = 0; k < 50; k++) {
    const d = join(TREE, '127', '200');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(join(d, pad(k)), '', { mode: 0o600 });
    utimesSync(join(d, pad(k)), then, then);
  }
  await decider.start(tmp.path, { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS });
  srv = await Server.start({ env: { JGREYLIST_DIR: TREE, QGREY_LISTDIR: LISTS, STANDIN_DIR: REC, ...decider.env }, limit: 60 });
});

after(async () => {
  await srv?.stop();
  await decider.stop();
  tmp[Symbol.dispose]();
});

it('500 sessions, 50 at a time: right answers, exact tree, nothing left running', async () => {
  const sessions = plan();
  const results = new Array<Awaited<ReturnType<typeof session>> | Error>(sessions.length);
  let next = 0;
  let maxChildren = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxChildren = Math.max(maxChildren, srv.children().length);
      await sleep(500);
    }
  })();
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < sessions.length) {
        const i = next++;
        try {
          // generous: other test files may be loading the machine; a quiet run takes ~15 s
          results[i] = await session(srv.port, sessions[i]!.from, 60000);
        } catch (err) {
          results[i] = err as Error;
        }
      }
    }),
  );
  const ms = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  sampling = false;
  await sampler;

  // every session got the right answer
  const wrong: string[] = [];
  sessions.forEach((s, i) => {
    const r = results[i]!;
    if (r instanceof Error) {
      // say whether tcpserver ever took the connection, and what happened to it
      const pid = new RegExp(`^tcpserver: pid ([0-9]+) from ${s.from.replace(/\./g, '\\.')}$`, 'm').exec(srv.log)?.[1];
      const seen = pid === undefined ? 'tcpserver never logged it' : srv.linesOf(Number(pid)).concat(srv.logLines().filter((l) => l.includes(` ${pid} `))).join(' | ');
      return wrong.push(`${s.from}: ${r.message}; ${seen}`);
    }
    const ok =
      s.kind === 'grey'
        ? r.greeting === '220 rblsmtpd.local' && r.rcpt === '451 GREYLIST Try again later.' && r.end === '221 rblsmtpd.local'
        : r.greeting === '220 standin.example ESMTP' && r.rcpt === '250 ok' && /^250 ok [0-9]+ qp [0-9]+$/.test(r.data ?? '') && r.end === '221 standin.example';
    if (!ok) wrong.push(`${s.from} (${s.kind}): ${JSON.stringify(r)}`);
  });
  // with qgreyd: a connection that fell back explains a wrong answer, so say that first
  if (wrong.length > 0) decider.verify(srv.log, 0);
  assert.deepEqual(wrong, []);

  // the tree: the 50 seeded entries (revisited) and one new entry per greylisted network
  const expected = new Set<string>();
  for (let k = 0; k < 50; k++) expected.add(`127/200/${pad(k)}`);
  for (const s of sessions) if (s.kind === 'grey') expected.add(s.from.split('.').slice(0, 3).map((x) => pad(Number(x))).join('/'));
  assert.equal(expected.size, 350);
  assert.deepEqual(entries(), [...expected].sort());
  for (let k = 0; k < 50; k++) {
    const st = statSync(join(TREE, '127/200', pad(k)));
    assert.ok(st.atimeMs / 1000 > Date.now() / 1000 - 120, 'known entries were revisited');
    assert.ok(st.mtimeMs / 1000 < Date.now() / 1000 - SEEDED_AGO + 5, 'first seen kept');
  }

  // the log: one decision per session, each with its own pid, all parsed by logline.ts
  for (let i = 0; i < 100 && !srv.log.includes('status: 0/60\n') ; i++) await sleep(20);
  const counts = new Map<string, number>();
  const pids = new Set<number>();
  for (const l of srv.logLines()) {
    const e = parseBody(l);
    if (e.kind !== 'decision') continue;
    counts.set(e.decision, (counts.get(e.decision) ?? 0) + 1);
    pids.add(e.pid!);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'GREY first time': 300, 'OK known': 150, 'OK whitelisted': 50 });
  assert.equal(pids.size, 500);
  assert.equal(readdirSync(REC).filter((f) => f.endsWith('.argv')).length, 200);
  // with qgreyd: it decided all 500 (the same lines as in the connection log); without: no fallback
  decider.verify(srv.log, decider.qgreyd === null ? 0 : 500);

  // nothing left: tcpserver has no child, and no decision program of ours is alive anywhere
  for (let i = 0; i < 100 && srv.children().length > 0; i++) await sleep(20);
  assert.deepEqual(srv.children(), []);
  assert.deepEqual(ourNodeProcesses(), []);
  assert.ok(maxChildren > 1, 'sessions ran in parallel');
  console.log(`# ${decider.qgreyd === null ? 'per-process' : 'qgreyd'}: 500 sessions in ${ms} ms (${(ms / 500).toFixed(1)} ms each, at most ${maxChildren} at once; the client used ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU)`);
});
