// A pretend host for running documented examples (man pages, --help): /var, /etc, /tmp and
// /srv as directories of a temp dir holding copies of the fixtures (the stats logs moved so
// that their last line was written a minute ago, a tai64nlocal-converted backup), a `qgrey`
// on PATH, and dnsmasq answering for the domains the examples name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, QGREY, giveTree, tempDir } from '../helpers/util.js';
import { startDns, type DnsServer } from './dns-server.js';
import { startRedis, type RedisServer } from './redis-harness.js';
import { decodeLabel, encodeLabel } from '../../src/core/tai64n.js';

export interface ExampleHost {
  /** the temp dir standing in for / */
  readonly root: string;
  /** the working directory of the examples (holds whitelist_ip.txt, …) */
  readonly work: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * a command line with /var, /etc, /tmp, /srv and /usr/local/bin/qgrey pointed at the temp dir,
   * and the owner vpopmail:vchkpw (no such user here) replaced by the running uid:gid
   */
  rewrite(line: string): string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Copy a TAI64N log, shifting every label by `delta` seconds. */
export function restamp(src: string, dst: string, delta: number): void {
  const text = readFileSync(src, 'latin1');
  writeFileSync(
    dst,
    text.replace(/^@[0-9a-f]{24}/gm, (l) => {
      const r = decodeLabel(l);
      assert.ok(r.ok);
      return encodeLabel({ sec: r.stamp.sec + delta, nsec: r.stamp.nsec });
    }),
    'latin1',
  );
}

const TOPS = /(^|[\s'"=<>])\/(var|etc|tmp|srv)\//g;

export async function exampleHost(): Promise<ExampleHost> {
  const t = tempDir('qgrey-examples-');
  const T = t.path;
  const dirs = ['var/qmail/jgreylist', 'var/qmail/control/qgrey', 'var/log/qmail/smtpd', 'var/log/qmail/backup', 'var/www/html', 'etc', 'tmp', 'srv/old', 'bin', 'work'];
  for (const d of dirs) mkdirSync(join(T, d), { recursive: true });
  giveTree(join(T, 'var/qmail/jgreylist'));
  // the tree's owner stands in for vpopmail:vchkpw (nobody when the tests run as root)
  const tst = lstatSync(join(T, 'var/qmail/jgreylist'));
  const owner = `${tst.uid}:${tst.gid}`;
  // the stats fixture, moved so that its last line was written a minute ago
  const src = join(FIXTURES, 'stats/smtpd');
  const names = readdirSync(src).sort();
  const lastLine = readFileSync(join(src, 'current'), 'latin1').trimEnd().split('\n').pop()!;
  const last = decodeLabel(lastLine);
  assert.ok(last.ok);
  const delta = Math.floor(Date.now() / 1000) - 60 - last.stamp.sec;
  for (const n of names) {
    const r = n === 'current' ? null : decodeLabel(n);
    const name = r && r.ok ? encodeLabel({ sec: r.stamp.sec + delta, nsec: r.stamp.nsec }) + '.s' : n;
    restamp(join(src, n), join(T, 'var/log/qmail/smtpd', name), delta);
  }
  // a backup of the rotated file, converted by the real tai64nlocal in Rome
  const rotated = readdirSync(join(T, 'var/log/qmail/smtpd')).find((n) => n.endsWith('.s'))!;
  const conv = spawnSync('tai64nlocal', { input: readFileSync(join(T, 'var/log/qmail/smtpd', rotated)), env: { TZ: 'Europe/Rome' } });
  assert.equal(conv.status, 0);
  writeFileSync(join(T, 'var/log/qmail/backup/qmail-smtpd.2026-11-20'), conv.stdout);
  writeFileSync(join(T, 'srv/old/qmail-smtpd.2026-11-20'), conv.stdout);
  // whitelist outgoing's cron line: qmail-send's log (nothing in it yet) and our own domains
  mkdirSync(join(T, 'var/log/qmail/send'), { recursive: true });
  writeFileSync(join(T, 'var/log/qmail/send/current'), '');
  copyFileSync(join(FIXTURES, 'outgoing/rcpthosts'), join(T, 'var/qmail/control/rcpthosts'));
  const work = join(T, 'work');
  copyFileSync(join(FIXTURES, 'lists/whitelist_ip.txt'), join(work, 'whitelist_ip.txt'));
  copyFileSync(join(FIXTURES, 'lists/blacklist_ip.txt'), join(work, 'blacklist_ip.txt'));
  writeFileSync(join(work, 'partners.txt'), '192.0.2.0/24  # a partner\n');
  writeFileSync(join(work, 'drop.txt'), '203.0.113.0/24\n');
  // saved dig output for `whitelist mx nd.edu --dig nd-mx.txt --dig pickering.txt`
  writeFileSync(join(work, 'nd-mx.txt'), 'nd.edu.\t\t300\tIN\tMX\t10 pickering.nd.edu.\n');
  writeFileSync(join(work, 'pickering.txt'), 'pickering.nd.edu.\t300\tIN\tA\t192.0.2.61\n');
  writeFileSync(join(T, 'etc/tcp.smtp'), '127.:allow,RELAYCLIENT=""\n:allow\n');
  writeFileSync(join(T, 'bin/qgrey'), `#!/bin/sh\nexec '${process.execPath}' '${QGREY}' "$@"\n`);
  chmodSync(join(T, 'bin/qgrey'), 0o755);

  let dns: DnsServer | undefined;
  try {
    dns = await startDns([
      ...['example.org', 'example.net', 'nd.edu', 'ccl.net', 'gmail.com', 'outlook.com'].map((d) => `local=/${d}/`),
      'txt-record=example.org,"v=spf1 ip4:192.0.2.0/24 mx -all"',
      'txt-record=example.net,"v=spf1 ip4:198.51.100.0/25 ip6:2001:db8:5::/48 -all"',
      'txt-record=gmail.com,"v=spf1 ip4:198.51.100.0/26 -all"',
      'txt-record=outlook.com,"v=spf1 ip4:198.51.100.64/26 ip6:2001:db8:6::/48 -all"',
      'mx-host=example.org,mx1.example.org,10',
      'host-record=mx1.example.org,192.0.2.25',
      'mx-host=nd.edu,pickering.nd.edu,10',
      'host-record=pickering.nd.edu,192.0.2.61',
      'mx-host=ccl.net,mx.ccl.net,10',
      'host-record=mx.ccl.net,192.0.2.62,2001:db8:7::62',
    ]);
  } catch (err) {
    t[Symbol.dispose]();
    throw err;
  }
  // the shared store of the sync examples: redis://:PASSWORD@192.0.2.5/0 is this one
  let redis: RedisServer;
  try {
    redis = await startRedis({ password: 'PASSWORD' });
  } catch (err) {
    await dns.stop();
    t[Symbol.dispose]();
    throw err;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(T, 'bin')}:${process.env.PATH}`,
    TZ: 'UTC',
    NO_COLOR: '1',
    JGREYLIST_DIR: join(T, 'var/qmail/jgreylist'),
    QGREY_LISTDIR: join(T, 'var/qmail/control/qgrey'),
    QGREY_DNS_SERVER: dns.server,
  };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.FORCE_COLOR;
  const server = dns;
  return {
    root: T,
    work,
    env,
    rewrite: (line) => {
      const out = line
        .replace(/\bvpopmail:vchkpw\b/g, owner)
        .replace(/\/usr\/local\/bin\/qgrey\b/g, 'qgrey')
        .replace(/redis:\/\/:PASSWORD@192\.0\.2\.5\//g, `redis://:PASSWORD@127.0.0.1:${redis.port}/`)
        .replace(TOPS, (_m, pre: string, top: string) => `${pre}${T}/${top}/`);
      assert.doesNotMatch(out.split(T).join('@T@'), TOPS, `not pointed at the temp dir: ${line}`);
      return out;
    },
    [Symbol.asyncDispose]: async () => {
      await server.stop();
      await redis.stop();
      t[Symbol.dispose]();
    },
  };
}
