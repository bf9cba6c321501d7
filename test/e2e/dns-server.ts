// A real DNS server for the import tests and the bench: dnsmasq (Debian dnsmasq-base) on a
// free loopback port, answering only from the records given (local=/test/, no upstream:
// names outside .test get REFUSED, unknown names under .test get NXDOMAIN).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface DnsServer {
  /** `127.0.0.1:PORT`, for --dns-server */
  readonly server: string;
  readonly port: number;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  const p = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return p;
}

/** Start dnsmasq with these config lines (mx-host=, host-record=, txt-record=, …). */
export async function startDns(config: readonly string[]): Promise<DnsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-dns-'));
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(conf, ['local=/test/', 'no-resolv', 'no-hosts', 'no-negcache', ...config, ''].join('\n'));
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    const child: ChildProcess = spawn(
      DNSMASQ,
      ['--keep-in-foreground', `--conf-file=${conf}`, `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--pid-file=', `--user=${userInfo().username}`, '--log-facility=-'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    let up = false;
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      try {
        await r.resolveTxt('qgrey-probe.test');
        up = true;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOTFOUND' || code === 'ENODATA') up = true;
      }
      if (up) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    if (up) {
      const stop = async () => {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      };
      return { server: `127.0.0.1:${port}`, port, stop, [Symbol.asyncDispose]: stop };
    }
    child.kill('SIGKILL');
    await exited;
    lastErr = stderr.trim();
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`unable to start dnsmasq: ${lastErr}`);
}

/** A loopback UDP port with nothing listening (queries fail with ECONNREFUSED). */
export async function deadServer(): Promise<string> {
  return `127.0.0.1:${await freeUdpPort()}`;
}

/** The record set of the import tests (PRODUCT.md: MX, A, AAAA, TXT/SPF, includes, a redirect, a loop, a long TXT, a missing domain). */
export const RECORDS: readonly string[] = [
  // MX
  'mx-host=mx.test,mx1.mx.test,10',
  'mx-host=mx.test,mx2.mx.test,20',
  'host-record=mx1.mx.test,192.0.2.10,2001:db8::10',
  'host-record=mx2.mx.test,192.0.2.11',
  'mx-host=noaddr.test,ghost.noaddr.test,10',
  'mx-host=private.test,lo.private.test,10',
  'host-record=lo.private.test,10.1.2.3',
  'host-record=lo.private.test,192.0.2.99',
  // SPF
  'txt-record=spf.test,"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:100::/48 a mx include:inc.test -all"',
  'txt-record=spf.test,"google-site-verification=xyz"',
  'host-record=spf.test,192.0.2.20',
  'mx-host=spf.test,mx1.mx.test,10',
  'txt-record=inc.test,"v=spf1 ip4:203.0.113.0/25 include:inc2.test ~all"',
  'txt-record=inc2.test,"v=spf1 ip4:203.0.113.128/26 -all"',
  'txt-record=redir.test,"v=spf1 ip4:192.0.2.64/27 redirect=inc2.test"',
  'txt-record=loop1.test,"v=spf1 ip4:192.0.2.200 include:loop2.test -all"',
  'txt-record=loop2.test,"v=spf1 include:loop1.test -all"',
  'txt-record=long.test,"v=spf1 ip4:198.18.0.0/24 ip4:198.18.1.0/24 ip4:198.18.2.0/24 ","ip4:198.18.3.0/24 ip4:198.18.4.0/24 ip6:2001:db8:200::/48 -all"',
  'txt-record=macro.test,"v=spf1 exists:%{i}.bl.test ptr ip4:192.0.2.128/28 include:%{d}.x.test -all"',
  'txt-record=plusall.test,"v=spf1 ip4:192.0.2.1 +all"',
  'txt-record=wide.test,"v=spf1 ip4:10.0.0.0/8 ip4:20.0.0.0/8 ip4:198.51.100.7 -all"',
  'txt-record=two.test,"v=spf1 ip4:192.0.2.1 -all"',
  'txt-record=two.test,"v=spf1 ip4:192.0.2.2 -all"',
  'txt-record=nospf.test,"hello world"',
  'txt-record=badinc.test,"v=spf1 include:nosuch.test -all"',
  'txt-record=many.test,"v=spf1 include:c1.test -all"',
  ...Array.from({ length: 11 }, (_, i) => `txt-record=c${i + 1}.test,"v=spf1 ip4:192.0.2.${i + 1} include:c${i + 2}.test -all"`),
  'txt-record=c12.test,"v=spf1 -all"',
];
