// `qgrey import`: move off the MySQL greylisting plugin (Manuel Mausz's qmail-spp plugin, the
// first seed guide's) without losing its data. Reads its two tables by their real schema:
//
//   greylisting_data   relay_ip (binary, 4 or 16 bytes), mail_from, rcpt_to, block_expires,
//                      record_expires (UTC datetimes), blocked_count, passed_count,
//                      create_time, last_update: one triplet each
//   greylisting_lists  ipaddr (address or CIDR, or NULL with rcpt_to a recipient domain),
//                      block_expires (later than now: a blacklist entry; else a whitelist
//                      entry), record_expires (the entry's expiry), comment
//
// and writes the live triplets into qgrey-spp's triplet directory (keys normalised as
// qgrey-spp makes them, so VERP rows collapse into one; merged with what is stored, so that a
// second import counts nothing twice) and the live address rows into the qgrey whitelist and
// blacklist with source `mysql:greylisting` (a second import replaces them). Rows by recipient domain have no qgrey equivalent: counted
// and reported. --dry-run reads and reports only. The client is mysql2, imported here only.

import { permanent, quote, temporary } from '../core/errors.js';
import { formatCidr, formatIp, parseCidr, type Ip } from '../core/ip.js';
import { tripletId, tripletKey, type Triplet } from '../core/triplet.js';
import { formatEntry, parseLine, type ListLine, type ListName } from '../store/lists.js';
import { openLists } from '../store/open.js';
import { selectedStore } from '../store/select.js';
import { TreeTriplets } from '../store/triplets.js';
import { listDir, rcptDir as rcptDirOf, type Env } from '../core/config.js';
import { lstatSync, readFileSync } from 'node:fs';
import { warn } from '../render/diag.js';
import type { Clock } from '../core/clock.js';

export interface ImportArgs {
  /** the environment: the settings a flag does not give (src/core/config.ts) */
  env: Env;
  defaultsFile?: string;
  socket?: string;
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  rcptDir?: string;
  listdir?: string;
  /** --store: the shared Redis store gets the list rows (openLists) and the triplets (PREFIX t:ID), not rcptDir */
  store?: string;
  byIp: boolean;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

export const SOURCE = 'mysql:greylisting';
/** the MySQL plugin's control file, where its mysql_default_file is named */
export const PLUGIN_CONTROL = '/var/qmail/control/greylisting';

export interface ImportReport {
  dryRun: boolean;
  rows: number;
  /** live triplets read, and the qgrey triplets they make (VERP/BATV rows collapse) */
  triplets: number;
  keys: number;
  /** rows of either table past their record_expires: left out */
  expired: number;
  whitelist: number;
  blacklist: number;
  /** list rows by recipient domain: no qgrey equivalent */
  byDomain: number;
  badRows: number;
}

/** A my.cnf [client] section (the plugin's control/mysql.cnf). */
export function parseMyCnf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let inClient = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      inClient = sec[1]!.trim() === 'client';
      continue;
    }
    if (!inClient) continue;
    const m = /^([A-Za-z_-]+)\s*=\s*(.*)$/.exec(line);
    if (m) out[m[1]!.replace(/-/g, '_')] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/** relay_ip as the plugin stores it (INET6_ATON: 4 bytes IPv4, 16 bytes IPv6), or null. */
export function ipOfBinary(hex: string | null): Ip | null {
  if (hex === null || !/^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32})$/.test(hex)) return null;
  if (hex.length === 8) return { family: 4, value: parseInt(hex, 16) >>> 0, mapped: false };
  const groups: number[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16));
  // ::ffff:a.b.c.d is IPv4, as qgrey-spp keys it
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return { family: 4, value: ((groups[6]! << 16) | groups[7]!) >>> 0, mapped: true };
  return { family: 6, groups };
}

/** Two rows of one key (VERP rows) as one: the widest times, counts added. */
function mergeRows(a: Triplet, b: Triplet): Triplet {
  return { ...widest(a, b), passed: a.passed + b.passed, blocked: a.blocked + b.blocked };
}

/**
 * An imported triplet into what is stored: the widest times and the larger counts, so an
 * import run again (the same rows, or the rows grown since) never counts a row twice.
 */
function mergeStored(stored: Triplet, imported: Triplet): Triplet {
  return { ...widest(stored, imported), passed: Math.max(stored.passed, imported.passed), blocked: Math.max(stored.blocked, imported.blocked) };
}

function widest(a: Triplet, b: Triplet): Triplet {
  return {
    ...a,
    first: Math.min(a.first, b.first),
    last: Math.max(a.last, b.last),
    blockUntil: Math.min(a.blockUntil, b.blockUntil),
    expires: Math.max(a.expires, b.expires),
  };
}

interface DataRow {
  ip: string | null;
  mail_from: string | null;
  rcpt_to: string | null;
  block_expires: number | string | null;
  record_expires: number | string | null;
  blocked_count: number;
  passed_count: number;
  create_time: number | string | null;
  last_update: number | string | null;
}

interface ListRow {
  ipaddr: string | null;
  rcpt_to: string | null;
  black: number;
  record_expires: number | string | null;
  forever: number;
  comment: string | null;
  live: number;
}

const num = (v: number | string | null, dflt: number) => (v === null || v === '' || !Number.isFinite(Number(v)) ? dflt : Number(v));

export async function run(argv: ImportArgs, clock: Clock): Promise<number> {
  // the connection: --defaults-file (else the plugin's mysql_default_file), then the flags
  let cnfPath = argv.defaultsFile;
  if (cnfPath === undefined) {
    try {
      const m = /^mysql_default_file=(.*)$/m.exec(readFileSync(PLUGIN_CONTROL, 'latin1'));
      if (m) cnfPath = m[1]!.startsWith('/') ? m[1]! : `/var/qmail/${m[1]}`;
    } catch {
      /* no plugin control file: flags only */
    }
  }
  let cnf: Record<string, string> = {};
  if (cnfPath !== undefined) {
    try {
      cnf = parseMyCnf(readFileSync(cnfPath, 'latin1'));
    } catch (err) {
      throw permanent(`unable to read ${cnfPath}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}`);
    }
  }
  const socket = argv.socket ?? cnf.socket;
  const host = argv.host ?? cnf.host;
  const conn = {
    ...(socket !== undefined && host === undefined ? { socketPath: socket } : { host: host ?? 'localhost', port: argv.port ?? (cnf.port ? Number(cnf.port) : 3306) }),
    user: argv.user ?? cnf.user ?? 'greylisting',
    password: cnf.password,
    database: argv.database ?? cnf.database ?? 'greylisting',
    timezone: 'Z',
    connectTimeout: 10000,
  };
  const rcptDir = rcptDirOf(argv.rcptDir, argv.env);
  // the lists: their files, or the shared Redis store (a bad setting is refused before MySQL is asked)
  const target = selectedStore(argv.store, argv.env);
  const dir = target === null ? listDir(argv.listdir, argv.env) : `the Redis store ${target.display}`;
  const mysql = await import('mysql2/promise');
  let db;
  try {
    db = await mysql.createConnection(conn);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const perm = e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_BAD_DB_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR';
    const where = 'socketPath' in conn ? conn.socketPath : `${conn.host}:${conn.port}`;
    throw (perm ? permanent : temporary)(`unable to connect to MySQL at ${where} as ${quote(conn.user)}: ${e.message ?? String(err)}`);
  }
  const now = clock();
  const rep: ImportReport = { dryRun: argv.dryRun, rows: 0, triplets: 0, keys: 0, expired: 0, whitelist: 0, blacklist: 0, byDomain: 0, badRows: 0 };
  const triplets = new Map<string, Triplet>();
  const lists: Record<ListName, ListLine[]> = { whitelist: [], blacklist: [] };
  try {
    await db.query("SET time_zone = '+00:00'");
    // datetimes the plugin writes with UTC_TIMESTAMP(); 9999-12-31 is past UNIX_TIMESTAMP's range
    const ts = (c: string) => `IF(${c} >= '2106-01-01', 4294967295, UNIX_TIMESTAMP(${c}))`;
    const [data] = await db.query(
      `SELECT HEX(relay_ip) AS ip, mail_from, rcpt_to, ${ts('block_expires')} AS block_expires, ${ts('record_expires')} AS record_expires, blocked_count, passed_count, UNIX_TIMESTAMP(create_time) AS create_time, UNIX_TIMESTAMP(last_update) AS last_update FROM greylisting_data`,
    );
    for (const r of data as DataRow[]) {
      rep.rows++;
      const ip = ipOfBinary(r.ip);
      if (ip === null || r.mail_from === null || r.rcpt_to === null) {
        rep.badRows++;
        continue;
      }
      const expires = num(r.record_expires, 0);
      if (expires <= now) {
        rep.expired++;
        continue;
      }
      rep.triplets++;
      const key = tripletKey(ip, r.mail_from, r.rcpt_to, argv.byIp);
      const created = num(r.create_time, now);
      const t: Triplet = {
        ...key,
        first: created,
        last: Math.max(created, num(r.last_update, created)),
        blockUntil: num(r.block_expires, created),
        expires,
        passed: Number(r.passed_count) || 0,
        blocked: Number(r.blocked_count) || 0,
      };
      const id = tripletId(key);
      const old = triplets.get(id);
      triplets.set(id, old === undefined ? t : mergeRows(old, t));
    }
    rep.keys = triplets.size;

    const [rows] = await db.query(
      `SELECT ipaddr, rcpt_to, block_expires >= UTC_TIMESTAMP() AS black, ${ts('record_expires')} AS record_expires, record_expires >= '9999-01-01' AS forever, comment, record_expires > UTC_TIMESTAMP() AS live FROM greylisting_lists`,
    );
    for (const r of rows as ListRow[]) {
      rep.rows++;
      if (!Number(r.live)) {
        rep.expired++;
        continue;
      }
      if (r.ipaddr === null || r.ipaddr === '') {
        if (r.rcpt_to !== null) rep.byDomain++;
        else rep.badRows++;
        continue;
      }
      const cidr = parseCidr(r.ipaddr.trim());
      if (cidr === null) {
        warn(`greylisting_lists: ${quote(r.ipaddr)} is not an address or network; skipped`);
        rep.badRows++;
        continue;
      }
      const name: ListName = Number(r.black) ? 'blacklist' : 'whitelist';
      const comment = (r.comment ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
      const text = formatEntry({ address: cidr.prefix === (cidr.ip.family === 4 ? 32 : 128) ? formatIp(cidr.ip) : formatCidr(cidr), expires: Number(r.forever) ? null : num(r.record_expires, 0), source: SOURCE, message: null, comment });
      const line = parseLine(text, 0);
      if (line.kind !== 'entry') {
        rep.badRows++;
        continue;
      }
      lists[name].push(line);
      rep[name]++;
    }
  } finally {
    await db.end();
  }

  if (!argv.dryRun && target === null) {
    try {
      if (!lstatSync(rcptDir).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw permanent(`unable to use the triplet directory ${rcptDir}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}: create it first (qgrey-spp(8))`);
    }
  }

  if (!argv.dryRun) {
    // the plugin runs as the directory's owner: what root writes is given to it
    if (target === null) {
      const st = lstatSync(rcptDir);
      const store = new TreeTriplets(rcptDir, process.geteuid?.() === 0 ? { uid: st.uid, gid: st.gid } : undefined);
      for (const [id, t] of triplets) {
        const s = store.getTriplet(id);
        store.putTriplet(id, s === null ? t : mergeStored(s, t));
      }
    } else {
      // where qgrey-spp on the shared store keeps them (qgrey(5), REDIS STORE: PREFIX t:ID)
      const { RedisStore } = await import('../store/redis.js');
      const { mergeTripletsInto } = await import('../store/redis-triplets.js');
      const rs = await RedisStore.open(target, { layout: null, mode: 'command' });
      try {
        await mergeTripletsInto(rs.client, target.prefix, triplets, mergeStored, clock());
      } finally {
        await rs.close();
      }
    }
    const ls = await openLists({ listdir: argv.listdir, store: argv.store, env: argv.env });
    try {
      for (const name of ['whitelist', 'blacklist'] as const) {
        await ls.update(name, (lines) => {
          const kept = lines.filter((l) => !(l.kind === 'entry' && l.entry.source === SOURCE));
          if (kept.length === lines.length && lists[name].length === 0) return null;
          return [...kept, ...lists[name]];
        });
      }
    } finally {
      await ls.close();
    }
  }
  if (argv.json) process.stdout.write(JSON.stringify(rep) + '\n');
  else if (!argv.quiet || argv.dryRun) {
    process.stdout.write(
      `import: ${rep.rows} rows (${rep.expired} expired, left out); ${argv.dryRun ? 'would write' : 'wrote'} ${rep.keys} triplets (from ${rep.triplets} rows) into ${target === null ? rcptDir : dir}, ` +
        `${rep.whitelist} whitelist and ${rep.blacklist} blacklist entries (source ${SOURCE}) into ${dir}` +
        (rep.byDomain ? `; ${rep.byDomain} list rows by recipient domain have no qgrey equivalent, left out` : '') +
        (rep.badRows ? `; ${rep.badRows} rows not understood` : '') +
        '\n',
    );
  }
  return 0;
}
