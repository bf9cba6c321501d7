// Lists: (1) the wrapper's lookup, one address against a 10,000-entry list, in a fresh Node
// process: the findInList call itself timed inside the process (cold code, as in the wrapper,
// which does this once per connection), and the whole process next to bare `node -e 0`
// measured in the same run; for a list spread over 200 first octets and for one whose
// entries all share the looked-up address's first octet (IPv6: first group), and the same
// lookup repeated in one process; (2) `qgrey whitelist spf` for 50 domains against a local
// dnsmasq, next to the CLI's own start-up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchEnv, fmt, measure, medianOf, ratio } from './util.js';
import { startDns } from '../test/e2e/dns-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '..');
const ROOT = resolve(DIST, '..');
const QGREY = join(ROOT, 'bin/qgrey');

function bigList(n: number): string {
  const out: string[] = ['# generated: 10,000 entries of every form'];
  for (let i = 0; i < n; i++) {
    const a = 11 + (i % 200);
    const b = (i >> 3) & 255;
    const c = (i * 7) & 255;
    switch (i % 6) {
      case 0:
        out.push(`${a}.${b}.${c}.${i & 255}\tnever\tmanual\t# host ${i}`);
        break;
      case 1:
        out.push(`${a}.${b}.${c}.0/24\t2099-01-01T00:00:00Z\tspf:d${i % 50}.test\t# ip4:${a}.${b}.${c}.0/24`);
        break;
      case 2:
        out.push(`${a}.${b}.\tnever\tmanual`);
        break;
      case 3:
        out.push(`${a}.${b}.${c}.10-20\tnever\tfile:feed`);
        break;
      case 4:
        out.push(`2001:db8:${(i & 0xffff).toString(16)}::/48\tnever\tspf:d${i % 50}.test`);
        break;
      default:
        out.push(`${a}.${b}.${c}.${i & 255}\t2001-01-01T00:00:00Z\tmanual\t# expired`);
    }
  }
  return out.join('\n') + '\n';
}

/** 10,000 entries that all share 40. (three in four) or 2001:db8: (one in four). */
function sameOctetList(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 4 === 3) out.push(`2001:db8:${(i & 0xffff).toString(16)}::/48\tnever\tspf:big.test`);
    else out.push(`40.${(i >> 8) & 255}.${i & 255}.0/24\tnever\tspf:big.test\t# ip4:40.${(i >> 8) & 255}.${i & 255}.0/24`);
  }
  return out.join('\n') + '\n';
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-bench-lists-'));
  try {
    const list = join(dir, 'whitelist');
    writeFileSync(list, bigList(10000));
    const same = join(dir, 'same');
    writeFileSync(same, sameOctetList(10000));
    // what the wrapper does: import the module, read the list, match one address; the lookup
    // is timed inside the process, the process from outside
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `const t0 = performance.now();\n` +
        `const { findInList } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'src/store/lists.js')).href)});\n` +
        `const { parseIp } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'src/core/ip.js')).href)});\n` +
        `const ip = parseIp(process.argv[3]);\n` +
        `const t1 = performance.now();\n` +
        `const m = findInList(process.argv[2], ip, Date.now() / 1000);\n` +
        `const t2 = performance.now();\n` +
        `process.stdout.write(JSON.stringify({ label: m ? m.label : null, importMs: t1 - t0, lookupMs: t2 - t1 }) + '\\n');\n`,
    );
    const env = benchEnv();
    const node = process.execPath;
    const cases: { name: string; path: string; ip: string; want: string | null }[] = [
      { name: 'not listed (250.1.2.3)', path: list, ip: '250.1.2.3', want: null },
      { name: 'listed (13.0.5.5)', path: list, ip: '13.0.5.5', want: '13.0.' },
      { name: 'IPv6 listed (2001:db8:4::1)', path: list, ip: '2001:db8:4::1', want: '2001:db8:4::/48' },
      { name: 'all share 40.: 40.1.2.3', path: same, ip: '40.1.2.3', want: '40.1.2.0/24' },
      { name: 'all share 2001:db8:, 2001:db8:7::1', path: same, ip: '2001:db8:7::1', want: '2001:db8:7::/48' },
    ];
    measure(node, [probe, list, '250.1.2.3'], { env }); // warm the page cache
    measure(node, [probe, same, '40.1.2.3'], { env });
    const ROUNDS = 15;
    const bare: number[] = [];
    const runs = cases.map(() => ({ wall: [] as number[], lookup: [] as number[], imports: [] as number[], rss: [] as number[] }));
    for (let r = 0; r < ROUNDS; r++) {
      bare.push(measure(node, ['-e', '0'], { env }).ms);
      cases.forEach((c, k) => {
        const t = measure(node, [probe, c.path, c.ip], { env });
        const o = JSON.parse(t.stdout) as { label: string | null; importMs: number; lookupMs: number };
        if (o.label !== c.want) throw new Error(`lookup probe for ${c.ip} gave ${o.label}, expected ${c.want}`);
        const run = runs[k]!;
        run.wall.push(t.ms);
        run.lookup.push(o.lookupMs);
        run.imports.push(o.importMs);
        run.rss.push(t.maxRssMB);
      });
    }
    const b = median(bare);
    console.log(`lookup, one address against a 10,000-entry list in a fresh process (median of ${ROUNDS}; findInList timed inside the process, the whole process from outside):`);
    cases.forEach((c, k) => {
      const run = runs[k]!;
      console.log(
        `  ${c.name.padEnd(36)} lookup ${fmt(median(run.lookup)).padStart(8)}   process ${fmt(median(run.wall)).padStart(8)} (${ratio(median(run.wall), b)} node -e 0; ES module imports ${fmt(median(run.imports))}), max RSS ${median(run.rss).toFixed(1)} MB`,
      );
    });
    console.log(`  node -e 0 ${fmt(b)}`);
    // in-process cost of the same lookup repeated (warm code; the file is read each time)
    const { findInList } = (await import(pathToFileURL(join(DIST, 'src/store/lists.js')).href)) as typeof import('../src/store/lists.js');
    const { parseIp } = (await import(pathToFileURL(join(DIST, 'src/core/ip.js')).href)) as typeof import('../src/core/ip.js');
    const ip = parseIp('250.1.2.3')!;
    for (let i = 0; i < 20; i++) findInList(list, ip, Date.now() / 1000);
    const t0 = process.hrtime.bigint();
    const N = 200;
    for (let i = 0; i < N; i++) findInList(list, ip, Date.now() / 1000);
    const scanMs = Number(process.hrtime.bigint() - t0) / 1e6 / N;
    console.log(`lookup, 10,000-entry list, repeated in one process (warm; read + scan): ${fmt(scanMs)} per call`);

    // SPF import: 50 domains, each with ip4/ip6/a/mx terms and a shared provider include
    const records: string[] = ['txt-record=_spf.provider.test,"v=spf1 ip4:198.18.0.0/20 ip4:198.18.32.0/20 ip6:2001:db8:ff00::/40 include:_spf2.provider.test ~all"', 'txt-record=_spf2.provider.test,"v=spf1 ip4:198.19.0.0/22 -all"', 'host-record=mx.provider.test,198.18.200.1,2001:db8:ff::1'];
    const domains: string[] = [];
    for (let i = 0; i < 50; i++) {
      const d = `d${i}.test`;
      domains.push(d);
      records.push(`txt-record=${d},"v=spf1 ip4:192.0.2.${i} ip4:203.0.${i}.0/24 ip6:2001:db8:${i.toString(16)}::/48 a mx include:_spf.provider.test -all"`);
      records.push(`host-record=${d},198.51.100.${i}`);
      records.push(`mx-host=${d},mx.provider.test,10`);
    }
    const dns = await startDns(records);
    try {
      const ldir = join(dir, 'import');
      const cliEnv = benchEnv({ QGREY_LISTDIR: ldir, QGREY_DNS_SERVER: dns.server });
      const start = medianOf(5, () => measure(node, [QGREY, '--version'], { env: cliEnv }));
      const imp = medianOf(3, () => {
        rmSync(ldir, { recursive: true, force: true });
        return measure(node, [QGREY, 'whitelist', 'spf', '-q', ...domains], { env: cliEnv });
      });
      if (imp.code !== 0) throw new Error(`spf import exited ${imp.code}`);
      const again = medianOf(3, () => measure(node, [QGREY, 'whitelist', 'spf', '-q', ...domains], { env: cliEnv }));
      console.log(`spf import, 50 domains (local dnsmasq): ${fmt(imp.ms)} first run, ${fmt(again.ms)} refresh (no change), vs qgrey --version ${fmt(start.ms)}; max RSS ${imp.maxRssMB.toFixed(1)} MB`);
    } finally {
      await dns.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
