// `qgrey check IP`: what the wrapper would decide for this address right now, and why.
// Uses the wrapper's own decide() and the lists' findInList(); changes nothing.
// What tcp.smtp sets per connection (JGREYLIST, RELAYCLIENT) and TCPREMOTEHOST are not known
// here: the check assumes none of them (the report says so).

import { existsSync } from 'node:fs';
import { permanent, quote } from '../core/errors.js';
import { formatIp, parseIp, type Ip } from '../core/ip.js';
import { trapOf } from '../core/traps.js';
import { decideTriplet, parseTriplet, tripletId, tripletKey, type Triplet } from '../core/triplet.js';
import { selectedStore } from '../store/select.js';
import type { RedisTarget } from '../store/redis-url.js';
import { timersFrom } from '../store/spp-control.js';
import { readTraps } from '../store/trap-list.js';
import { TreeTriplets } from '../store/triplets.js';
import { pairAddress } from '../core/pairs.js';
import { findReply, repliesPath } from '../store/pairs.js';
import { keyOf, keyLabel } from '../core/key.js';
import { decide, substitute, type Outcome } from '../core/policy.js';
import { replyText } from '../core/text.js';
import { formatCivil } from '../core/zone.js';
import { Zone } from '../core/zone.js';
import type { ListMatch, ListName } from '../store/lists.js';
import { FileLists } from '../store/list-store.js';
import { withLists } from './lists.js';
import { byIp, controlPath, holdtime, listDir, noRev, rcptDir as rcptDirOf, treeDir, type Env } from '../core/config.js';
import { openStore, type OpenStore } from '../store/open.js';
import { AnomalyError, layoutName, type Entry } from '../store/store.js';
import type { Clock } from '../core/clock.js';

/** What `qgrey check` is given (built by src/commands/check.ts). */
export interface CheckArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  ip: string;
  dir?: string;
  /** true: per-IP tree, false: class-C, undefined: the tree's own layout (else $JGREYLIST_BY_IP) */
  byIp?: boolean;
  holdtime?: number;
  listdir?: string;
  /** --from / --to: also what qgrey-spp would answer for this RCPT (the triplet, the traps) */
  from?: string;
  to?: string;
  rcptDir?: string;
  /** --store: the shared Redis store (openStore, openLists) */
  store?: string;
  json: boolean;
}

const iso = (sec: number) => formatCivil(Math.floor(sec)).replace(' ', 'T') + 'Z';

export async function run(argv: CheckArgs, clock: Clock, open: OpenStore = openStore): Promise<number> {
  const ip = parseIp(argv.ip);
  if (!ip) throw permanent(`unable to parse address ${quote(argv.ip)}: expected an IPv4 or IPv6 address such as 192.0.2.7 or 2001:db8::25`);
  const root = treeDir(argv.dir, argv.env);
  const asked = argv.byIp === true ? 'byip' : argv.byIp === false ? 'classc' : byIp(argv.env) ? 'byip' : undefined;
  const tree = await open({ dir: root, env: argv.env, readOnly: true, store: argv.store, layout: asked, layoutSource: argv.byIp === undefined && asked !== undefined ? 'JGREYLIST_BY_IP' : undefined });
  const key = keyOf(ip, tree.layout);
  const now = clock();
  const hold = argv.holdtime ?? holdtime(argv.env);
  let black: ListMatch | null = null;
  let ld = '';
  let listWhere = (name: string) => name;
  let white: ListMatch | null = null;
  let entry: Entry | null = null;
  let unsafe: string | null = null;
  try {
    [black, white, ld, listWhere] = await withLists(argv, async (ls) => [
      await ls.find('blacklist', ip, now),
      await ls.find('whitelist', ip, now),
      ls instanceof FileLists ? ls.dir : ls.where('whitelist').replace(/ \S*$/, ''),
      ls instanceof FileLists ? (name: string) => `${ls.dir}/${name}` : (name: string) => ls.where(name as ListName),
    ] as const);
    entry = await tree.get(key);
  } catch (err) {
    if (!(err instanceof AnomalyError)) throw err;
    unsafe = err.message;
  } finally {
    await tree.close();
  }
  const norev = noRev(argv.env);
  const outcome: Outcome = decide({
    now,
    jgreylist: undefined,
    relayclient: false,
    norev,
    hasReverse: true,
    white: white ? { label: white.label } : null,
    black: black ? { label: black.label, message: black.message } : null,
    firstSeen: entry ? entry.first : null,
    holdtime: hold,
  });
  const address = formatIp(ip);
  // what the client is answered, as the wrapper words it (src/wrapper/connection.ts)
  const reply = outcome.action === 'deny' ? { code: 553, text: replyText('DENIED ' + substitute(outcome.message, address)) } : null;
  const rcpt = argv.to === undefined ? null : await rcptPreview(argv.env, ip, argv.from ?? '', argv.to, argv.rcptDir, selectedStore(argv.store, argv.env), ld, argv.listdir, black !== null, white !== null, now);
  const listInfo = (m: ListMatch | null) =>
    m ? { label: m.label, source: m.source, line: m.line, expires: m.expires === null ? null : iso(m.expires), comment: m.comment } : null;
  if (argv.json) {
    process.stdout.write(
      JSON.stringify({
        ip: address,
        decision: unsafe && outcome.action === 'grey' ? null : outcome.decision,
        action: outcome.action,
        why: unsafe ?? outcome.why,
        key,
        label: keyLabel(key),
        layout: tree.layout,
        path: tree.shared ? `${tree.where} ${key}` : `${root}/${key}`,
        entry: entry ? { first: Math.floor(entry.first), last: Math.floor(entry.last), firstSeen: iso(entry.first), lastSeen: iso(entry.last) } : null,
        holdtime: hold,
        whitelist: listInfo(white),
        blacklist: listInfo(black),
        reply,
        lists: ld,
        ...(rcpt === null ? {} : { rcpt }),
      }) + '\n',
    );
    return 0;
  }
  const zone = new Zone();
  const lines: string[] = [];
  if (unsafe && outcome.action === 'grey') {
    lines.push(`${address}: the wrapper cannot use its entry: ${unsafe}`);
  } else {
    lines.push(`${address}: ${outcome.decision}`);
    lines.push(`  why: ${outcome.why}`);
    if (reply) lines.push(`  reply: ${reply.code} ${reply.text} (answered from RCPT on; permanent: the client should not retry)`);
  }
  lines.push(`  entry: ${tree.shared ? `${tree.where} ${key}` : `${root}/${key}`} (${layoutName(tree.layout)} ${keyLabel(key)})`);
  if (entry) {
    lines.push(`    first seen ${zone.formatSeconds(Math.floor(entry.first))} (${ago(now - entry.first)} ago)`);
    lines.push(`    last seen  ${zone.formatSeconds(Math.floor(entry.last))} (${ago(now - entry.last)} ago)${Math.floor(entry.first) === Math.floor(entry.last) ? ', never revisited' : ''}`);
    if (outcome.action === 'grey') lines.push(`    passes from ${zone.formatSeconds(Math.ceil(entry.first + hold))} (hold time ${hold}s)`);
  } else if (!unsafe) lines.push('    none: the next connection is the first one');
  const show = (name: string, m: ListMatch | null) =>
    lines.push(
      `  ${name}: ${m ? `${m.label} (${m.source}, ${listWhere(name)} line ${m.line}${m.expires !== null ? `, expires ${iso(m.expires)}` : ''})${m.comment ? ' # ' + m.comment : ''}` : 'no entry'}`,
    );
  show('blacklist', black);
  show('whitelist', white);
  if (rcpt !== null) {
    lines.push(`  RCPT <${argv.from ?? ''}> -> <${argv.to}> (qgrey-spp): ${rcpt.decision}`);
    lines.push(`    triplet: ${rcpt.net} <${rcpt.key.from}> -> <${rcpt.key.to}>`, `      ${rcpt.shared ? 'key' : 'file'}: ${rcpt.path}`);
    if (rcpt.triplet !== null) {
      const t = rcpt.triplet;
      lines.push(`    first seen ${zone.formatSeconds(Math.floor(t.first))}, last seen ${zone.formatSeconds(Math.floor(t.last))}; ${t.passed} passed, ${t.blocked} deferred`);
      lines.push(`    ${t.passed > 0 ? 'passed until' : now < t.blockUntil ? `deferred until ${zone.formatSeconds(Math.ceil(t.blockUntil))}, retries count until` : 'retries count until'} ${zone.formatSeconds(Math.floor(t.expires))}`);
    } else if (rcpt.reply !== undefined) {
      const r = rcpt.reply;
      lines.push(`    reply pair: <${r.remote}> -> <${r.local}>: no triplet needed`, `      source ${r.source}${r.expires !== null ? `, expires ${r.expires}` : ''}`, `      file: ${r.file}`);
    } else if (rcpt.trap === null) lines.push('    none: the next RCPT is a new triplet');
  }
  lines.push('  not known here: tcp.smtp rules (JGREYLIST, RELAYCLIENT) and the client\'s', '    reverse DNS, which the wrapper checks first');
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function ago(s: number): string {
  if (s < 0) return `in the future by ${ago(-s)}`;
  if (s < 120) return `${Math.floor(s)}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}


/** What qgrey-spp would answer for this RCPT now (src/spp/rcpt.ts's order), reading only. */
interface RcptPreview {
  net: string;
  key: { from: string; to: string };
  id: string;
  /** the triplet's file, or on the shared store where and its key */
  path: string;
  shared: boolean;
  decision: string;
  trap: string | null;
  triplet: Triplet | null;
  /** the reply pair that passes it (whitelist outgoing) */
  reply?: { remote: string; local: string; source: string; expires: string | null; file: string };
}

async function rcptPreview(env: Env, ip: Ip, from: string, to: string, dir: string | undefined, target: RedisTarget | null, ld: string, listdir: string | undefined, black: boolean, white: boolean, now: number): Promise<RcptPreview> {
  const rcptDir = rcptDirOf(dir, env);
  const key = tripletKey(ip, from, to, !!env.QGREY_RCPT_BY_IP && env.QGREY_RCPT_BY_IP !== '0');
  const id = tripletId(key);
  // on the shared store qgrey-spp keeps the triplet at PREFIX t:ID (qgrey(5), REDIS STORE)
  const path = target === null ? `${rcptDir}/${id.slice(0, 2)}/${id}` : `${target.display} ${target.prefix}t:${id}`;
  const base = { net: key.net, key: { from: key.from, to: key.to }, id, path, shared: target !== null };
  if (black) return { ...base, decision: 'RCPT DENIED blacklisted', trap: null, triplet: null };
  if (white) return { ...base, decision: 'RCPT OK whitelisted', trap: null, triplet: null };
  const trap = trapOf(readTraps(ld), to);
  if (trap !== null) return { ...base, decision: `RCPT TRAP (${trap})`, trap, triplet: null };
  // a reply to one of our users from an address that user wrote to (whitelist outgoing)
  const remote = pairAddress(from);
  const local = remote === null ? null : pairAddress(to);
  const pair = remote !== null && local !== null ? findReply(listDir(listdir, env), remote, local, now) : null;
  if (pair !== null) return { ...base, decision: 'RCPT OK reply', trap: null, triplet: null, reply: { remote: pair.remote, local: pair.local, source: pair.source, expires: pair.expires === null ? null : iso(pair.expires), file: repliesPath(listDir(listdir, env)) } };
  // no triplet directory yet (qgrey-spp not set up): no triplet
  const stored = target !== null ? await redisTriplet(target, id) : existsSync(rcptDir) ? new TreeTriplets(rcptDir).getTriplet(id) : null;
  const d = decideTriplet(stored, key, now, timersFrom(controlPath(env), env));
  const word = d.pass ? (d.event === 'passed' ? 'RCPT OK passed' : 'RCPT OK known') : d.event === 'new' ? 'RCPT GREY new' : 'RCPT GREY too soon';
  return { ...base, decision: word, trap: null, triplet: stored };
}

/** The triplet qgrey-spp keeps on the shared store, read as it reads it (one GET). */
async function redisTriplet(target: RedisTarget, id: string): Promise<Triplet | null> {
  const { RedisStore } = await import('../store/redis.js');
  const rs = await RedisStore.open(target, { layout: null, mode: 'command' });
  try {
    const v = await rs.client.get(`${target.prefix}t:${id}`);
    return v === null ? null : parseTriplet(v);
  } finally {
    await rs.close();
  }
}
