// qgrey-spp's sender pools (QGREY_POOLS=spf) against a real DNS server (dnsmasq on loopback,
// dns-server.ts), with the per-process program and with qgreyd: a retry from another host that
// the sender domain's SPF record lets pass finds the same triplet; one from a host it does not
// name is a new triplet; records too wide or with +all make no pool; an answer is cached; a
// DNS server that never answers costs one bounded wait and the RCPT is keyed by the client's
// own network.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/util.js';
import { Qgreyd } from './qgreyd-harness.js';
import { ageTree, runPlugin, verdictOf, type Session } from './spp-harness.js';
import { startDns, type DnsServer } from './dns-server.js';
import { parsePool } from '../../src/core/pool.js';
import { parseTriplet } from '../../src/core/triplet.js';

const RECORDS = [
  // two networks in two /24s, one host by its A record
  'txt-record=pool.test,"v=spf1 ip4:192.0.2.0/25 ip4:198.51.100.0/24 a:out.pool.test -all"',
  'host-record=out.pool.test,203.0.113.77',
  'txt-record=wide.test,"v=spf1 ip4:10.0.0.0/8 -all"',
  'txt-record=plusall.test,"v=spf1 ip4:192.0.2.0/24 +all"',
  'txt-record=cached.test,"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all"',
];

/** A loopback UDP port that takes queries and never answers (a DNS server timing out). */
async function silentServer(): Promise<{ server: string; close(): Promise<void> }> {
  const s: Socket = createSocket('udp4');
  s.on('message', () => {});
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  return { server: `127.0.0.1:${s.address().port}`, close: () => new Promise<void>((res) => s.close(() => res())) };
}

for (const mode of ['per-process', 'qgreyd'] as const) {
  describe(`qgrey-spp sender pools (${mode})`, () => {
    const t = tempDir('qgrey-spp-pool-');
    const rcpt = join(t.path, 'rcpt');
    const lists = join(t.path, 'lists');
    const tree = join(t.path, 'tree');
    const control = join(t.path, 'greylisting');
    let dns: DnsServer;
    let qgreyd: Qgreyd | null = null;
    const base: Record<string, string> = { QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: lists, GLCONFIGFILE: control, QGREY_SECRET: '', JGREYLIST_DIR: tree, QGREY_POOLS: 'spf' };

    before(async () => {
      mkdirSync(rcpt, { mode: 0o700 });
      mkdirSync(lists);
      mkdirSync(tree, { mode: 0o700 });
      writeFileSync(control, 'block_expire=5\nrecord_expire=60\nrecord_expire_good=36\n');
      dns = await startDns(RECORDS);
      base.QGREY_DNS_SERVER = dns.server;
      if (mode === 'qgreyd') {
        qgreyd = await Qgreyd.start(t.path, { JGREYLIST_DIR: tree, QGREY_LISTDIR: lists, QGREY_RCPT_DIR: rcpt });
        Object.assign(base, qgreyd.clientEnv);
      }
    });
    after(async () => {
      if (qgreyd !== null) {
        const r = await qgreyd.stop();
        assert.deepEqual(r, { code: 0, signal: null }, qgreyd.log);
        assert.deepEqual(qgreyd.logLines().filter((l) => /^qgreyd: (refused|malformed|busy|internal|warning|.*left to)/.test(l)), []);
      }
      await dns.stop();
      t[Symbol.dispose]();
    });

    const plugin = async (s: Session) => {
      const r = await runPlugin(s, base);
      assert.equal(r.code, 0, r.log.join('\n'));
      assert.deepEqual(r.log.filter((l) => l.includes('fallback')), [], 'no fallback');
      return r;
    };

    it('a retry from another host of the SPF pool passes; one from a host outside it is a new triplet', async () => {
      const first = await plugin({ ip: '192.0.2.10', from: '<news@pool.test>', to: '<bob@example.net>' });
      assert.equal(verdictOf(first), 'E451');
      assert.match(first.log[0]!, /: RCPT GREY new <news@pool\.test> -> <bob@example\.net>; sender pool spf:pool\.test$/);
      ageTree(rcpt, 301);
      // outside the pool (and outside 192.0.2.10's /24): its own triplet, deferred
      const outside = await plugin({ ip: '203.0.113.5', from: '<news@pool.test>', to: '<bob@example.net>' });
      assert.equal(verdictOf(outside), 'E451');
      assert.match(outside.log[0]!, /: RCPT GREY new <news@pool\.test> -> <bob@example\.net>$/);
      // another host of the pool, in another /24: the same triplet, retried after the delay
      const retry = await plugin({ ip: '198.51.100.20', from: '<news@pool.test>', to: '<bob@example.net>' });
      assert.equal(verdictOf(retry), '', retry.log.join('\n'));
      assert.match(retry.log[0]!, /: RCPT OK passed <news@pool\.test> -> <bob@example\.net>; sender pool spf:pool\.test$/);
      // the host named by a:out.pool.test is in it too
      assert.match((await plugin({ ip: '203.0.113.77', from: 'news@pool.test', to: 'bob@example.net' })).log[0]!, /RCPT OK known .*; sender pool spf:pool\.test$/);
      // what is stored: one pool triplet, started from 192.0.2.0/24, passed twice from elsewhere
      const pooled = storedTriplets(rcpt).filter((x) => x.net === 'spf:pool.test');
      assert.equal(pooled.length, 1);
      assert.deepEqual([pooled[0]!.origin, pooled[0]!.moved, pooled[0]!.passed], ['192.0.2.0/24', 2, 2]);
      // the cached pool, named by its hash
      const pools = readdirSync(join(rcpt, 'p')).map((f) => parsePool(readFileSync(join(rcpt, 'p', f), 'latin1')));
      const p = pools.find((x) => x?.domain === 'pool.test');
      assert.ok(p);
      assert.equal(p.status, 'ok');
    });

    it('a record with networks wider than /16 or with +all makes no pool', async () => {
      assert.equal(verdictOf(await plugin({ ip: '10.1.1.1', from: 'a@wide.test', to: 'bob@example.net' })), 'E451');
      assert.equal(verdictOf(await plugin({ ip: '192.0.2.40', from: 'a@plusall.test', to: 'bob@example.net' })), 'E451');
      ageTree(rcpt, 301);
      const w = await plugin({ ip: '10.2.2.2', from: 'a@wide.test', to: 'bob@example.net' });
      assert.equal(verdictOf(w), 'E451');
      assert.match(w.log[0]!, /RCPT GREY new <a@wide\.test> -> <bob@example\.net>$/);
      const all = await plugin({ ip: '192.0.3.40', from: 'a@plusall.test', to: 'bob@example.net' });
      assert.equal(verdictOf(all), 'E451');
      assert.match(all.log[0]!, /RCPT GREY new <a@plusall\.test> -> <bob@example\.net>$/);
    });

    it('a pool is taken from the cache while it is fresh (the DNS server gone)', async () => {
      await using own = await startDns(RECORDS);
      const env = { QGREY_DNS_SERVER: own.server };
      assert.match((await plugin({ ip: '192.0.2.50', from: 'c@cached.test', to: 'bob@example.net', env })).log[0]!, /RCPT GREY new .*; sender pool spf:cached\.test$/);
      await own.stop();
      ageTree(rcpt, 301);
      const r = await plugin({ ip: '198.51.100.50', from: 'c@cached.test', to: 'bob@example.net', env });
      assert.equal(verdictOf(r), '', r.log.join('\n'));
      assert.match(r.log[0]!, /RCPT OK passed .*; sender pool spf:cached\.test$/);
    });

    it('a DNS server that never answers: the RCPT is keyed by its own network after QGREY_POOL_TIMEOUT, and the failure is remembered', async () => {
      const silent = await silentServer();
      try {
        const env = { QGREY_DNS_SERVER: silent.server, QGREY_POOL_TIMEOUT: '0.3' };
        const r = await plugin({ ip: '192.0.2.60', from: 'slow@slow.test', to: 'bob@example.net', env });
        assert.equal(verdictOf(r), 'E451');
        assert.match(r.log[0]!, /: RCPT GREY new <slow@slow\.test> -> <bob@example\.net>; sender pool of slow\.test unknown \(no answer within 0\.3s\): keyed by 192\.0\.2\.60's network$/);
        const again = await plugin({ ip: '192.0.2.60', from: 'slow@slow.test', to: 'bob@example.net', env });
        assert.match(again.log[0]!, /RCPT GREY too soon .*unknown \(a look-up failed less than a minute ago\)/);
        const t1 = storedTriplets(rcpt).find((x) => x.from === 'slow@slow.test');
        assert.equal(t1?.net, '192.0.2.0/24');
      } finally {
        await silent.close();
      }
    });

    it('without QGREY_POOLS=spf no DNS is asked and the client is keyed by its network', async () => {
      const r = await plugin({ ip: '192.0.2.11', from: 'off@pool.test', to: 'bob@example.net', env: { QGREY_POOLS: undefined } });
      assert.match(r.log[0]!, /RCPT GREY new <off@pool\.test> -> <bob@example\.net>$/);
      ageTree(rcpt, 301);
      const moved = await plugin({ ip: '198.51.100.21', from: 'off@pool.test', to: 'bob@example.net', env: { QGREY_POOLS: undefined } });
      assert.equal(verdictOf(moved), 'E451');
    });
  });
}

function storedTriplets(dir: string) {
  const out = [];
  for (const hh of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(hh)) continue;
    for (const id of readdirSync(join(dir, hh))) {
      const x = parseTriplet(readFileSync(join(dir, hh, id), 'latin1'));
      if (x !== null) out.push(x);
    }
  }
  return out;
}
