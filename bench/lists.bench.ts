// Lists: (1) the wrapper's lookup, one address against a 10,000-entry list, in a fresh Node
// process, next to bare `node -e 0` measured in the same run; (2) `qgrey whitelist spf` for
// 50 domains against a local dnsmasq, next to the CLI's own start-up.
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

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-bench-lists-'));
  try {
    const list = join(dir, 'whitelist');
    writeFileSync(list, bigList(10000));
    // what the wrapper does: import the module, read the list, match one address (not listed: a full scan)
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `import { findInList } from ${JSON.stringify(pathToFileURL(join(DIST, 'src/store/lists.js')).href)};\n` +
        `import { parseIp } from ${JSON.stringify(pathToFileURL(join(DIST, 'src/core/ip.js')).href)};\n` +
        `const m = findInList(process.argv[2], parseIp(process.argv[3]), Date.now() / 1000);\n` +
        `process.stdout.write((m ? m.label : 'none') + '\\n');\n`,
    );
    const env = benchEnv();
    const node = process.execPath;
    measure(node, [probe, list, '250.1.2.3'], { env }); // warm the page cache
    const bare = medianOf(15, () => measure(node, ['-e', '0'], { env }));
    const miss = medianOf(15, () => measure(node, [probe, list, '250.1.2.3'], { env }));
    const hit = medianOf(15, () => measure(node, [probe, list, '13.0.5.5'], { env }));
    if (miss.stdout.trim() !== 'none' || hit.stdout.trim() === 'none') throw new Error(`lookup probe gave ${miss.stdout} / ${hit.stdout}`);
    // in-process cost of the scan alone
    const { findInList } = (await import(pathToFileURL(join(DIST, 'src/store/lists.js')).href)) as typeof import('../src/store/lists.js');
    const { parseIp } = (await import(pathToFileURL(join(DIST, 'src/core/ip.js')).href)) as typeof import('../src/core/ip.js');
    const ip = parseIp('250.1.2.3')!;
    for (let i = 0; i < 20; i++) findInList(list, ip, Date.now() / 1000);
    const t0 = process.hrtime.bigint();
    const N = 200;
    for (let i = 0; i < N; i++) findInList(list, ip, Date.now() / 1000);
    const scanMs = Number(process.hrtime.bigint() - t0) / 1e6 / N;
    console.log(`lookup, 10,000-entry list, fresh process: ${fmt(miss.ms)} not listed, ${fmt(hit.ms)} listed, vs node -e 0 ${fmt(bare.ms)} (${ratio(miss.ms, bare.ms)}; +${fmt(miss.ms - bare.ms)}); max RSS ${miss.maxRssMB.toFixed(1)} MB vs ${bare.maxRssMB.toFixed(1)} MB`);
    console.log(`lookup, 10,000-entry list, in process (read + scan): ${fmt(scanMs)} per call`);

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
