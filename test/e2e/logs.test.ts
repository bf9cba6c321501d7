// `qgrey logs` end to end, on logs written by the real tai64n and multilog, compared with the
// real tai64nlocal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { QGREY, qgrey, run, tempDir } from '../helpers/util.js';

const FIX = readFileSync(join(import.meta.dirname, '../../../fixtures/logs/live_pipeline_current.log'), 'latin1');
/** the capture's bodies, without their labels: realistic connection blocks */
const BODIES = FIX.split('\n')
  .filter(Boolean)
  .map((l) => l.slice(26));

/** `n` body lines cycling through the capture, made distinct by a counter in some of them */
function input(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = BODIES[i % BODIES.length]!;
    out.push(b.startsWith('tcpserver: status') ? `tcpserver: status: ${i % 20}/20` : b);
  }
  return out.join('\n') + '\n';
}

function rotated(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^@[0-9a-f]{24}\.s$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** what tai64nlocal says about the files, in order */
function reference(files: string[], tz = 'UTC'): string {
  const text = files.map((f) => readFileSync(f, 'latin1')).join('');
  const r = run('tai64nlocal', [], { input: Buffer.from(text, 'latin1'), env: { TZ: tz }, encoding: 'latin1' });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function logs(args: string[], env: NodeJS.ProcessEnv = { TZ: 'UTC' }) {
  return qgrey(['logs', ...args], { env, encoding: 'latin1' });
}

/** A multilog dir filled by `multilog t s4096 n5`, rotated by size and by SIGALRM. */
async function multilogDir(root: string): Promise<string> {
  const dir = join(root, 'smtpd');
  const child = spawn('multilog', ['t', 's4096', 'n5', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
  const write = (s: string) => new Promise<void>((res, rej) => child.stdin.write(s, (e) => (e ? rej(e) : res())));
  await write(input(40)); // about 6 KB: one rotation by size
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGALRM'); // rotation on demand
  await new Promise((r) => setTimeout(r, 200));
  await write(input(25));
  child.stdin.end();
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0);
  return dir;
}

test('qgrey logs --utc on a multilog dir = cat @*.s current | TZ=UTC tai64nlocal; also in local time', async () => {
  using d = tempDir();
  const dir = await multilogDir(d.path);
  const files = [...rotated(dir), join(dir, 'current')];
  assert.ok(files.length >= 3, `multilog rotated: ${files.join(' ')}`);
  const r = logs(['--utc', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, reference(files));
  assert.equal(r.stdout.split('\n').length - 1, 65);
  const rome = logs([dir], { TZ: 'Europe/Rome' });
  assert.equal(rome.code, 0, rome.stderr);
  assert.equal(rome.stdout, reference(files, 'Europe/Rome'));
});

test('tai64n | multilog: the labels of tai64n; compressed copies read the same', () => {
  using d = tempDir();
  const dir = join(d.path, 'smtpd');
  const r0 = run('sh', ['-c', 'tai64n | multilog s4096 n20 "$1"', 'sh', dir], { input: input(200) });
  assert.equal(r0.code, 0, r0.stderr);
  const files = [...rotated(dir), join(dir, 'current')];
  assert.ok(files.length >= 5);
  const want = reference(files);
  const r = logs(['--utc', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want);
  // compressed copies of every file, named without a hint; read as files in the given order
  const copies: string[] = [];
  const tools = ['gzip', 'bzip2', 'xz', 'zstd -q'];
  files.forEach((f, i) => {
    const out = join(d.path, `copy${String(i).padStart(3, '0')}`);
    const c = run('sh', ['-c', `${tools[i % tools.length]} -c < "$1" > "$2"`, 'sh', f, out]);
    assert.equal(c.code, 0, c.stderr);
    copies.push(out);
  });
  const z = logs(['--utc', ...copies]);
  assert.equal(z.code, 0, z.stderr);
  assert.equal(z.stdout, want);
  // and through a glob pattern, and through stdin
  const g = logs(['--utc', join(d.path, 'copy*')]);
  assert.equal(g.stdout, want);
  const s = qgrey(['logs', '--utc', '-'], { input: Buffer.from(files.map((f) => readFileSync(f, 'latin1')).join(''), 'latin1'), encoding: 'latin1' });
  assert.equal(s.stdout, want);
});

test('a malformed label in the middle loses no neighbouring line (tai64nlocal segfaults there)', () => {
  using d = tempDir();
  const good = run('tai64n', [], { input: input(30) }).stdout.split('\n').slice(0, -1);
  const bad = [...good.slice(0, 10), '@400000006B0279082bdbfd3c upper case', ...good.slice(10, 20), '@400000006b0279082bdbfd3 twenty-three', ...good.slice(20)];
  const f = join(d.path, 'log');
  writeFileSync(f, bad.join('\n') + '\n');
  const theirs = run('tai64nlocal', [], { input: bad.join('\n') + '\n', env: { TZ: 'UTC' } });
  assert.notEqual(theirs.code, 0, 'Debian tai64nlocal fails on this input');
  const r = logs(['--utc', f]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, run('tai64nlocal', [], { input: good.join('\n') + '\n', env: { TZ: 'UTC' } }).stdout);
  const warn = r.stderr.split('\n').filter(Boolean);
  assert.equal(warn.length, 3, r.stderr);
  assert.match(warn[0]!, /^qgrey: warning: .*log:11: skipped a line with a malformed TAI64N label \(upper-case hex digit in label\)/);
  assert.match(warn[1]!, /log:22: .*23 hex digits/);
  assert.match(warn[2]!, /^qgrey: logs: 32 lines read; 2 malformed lines skipped$/);
});

test('the partial last line of current is not output; a later run sees it', () => {
  using d = tempDir();
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  const lines = run('tai64n', [], { input: input(5) }).stdout;
  const cut = lines.lastIndexOf('\n', lines.length - 2) + 20;
  writeFileSync(join(dir, 'current'), lines.slice(0, cut));
  const r = logs(['--utc', dir]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, reference([join(dir, 'current')]).split('\n').slice(0, 4).join('\n') + '\n');
  assert.doesNotMatch(r.stderr, /warning/);
  assert.match(r.stderr, /^qgrey: logs: 4 lines read; 1 unterminated last line/);
  appendFileSync(join(dir, 'current'), lines.slice(cut));
  assert.equal(logs(['--utc', dir]).stdout, reference([join(dir, 'current')]));
});

test('a tai64nlocal backup (Europe/Rome) plus the live dir: each line once, in UTC', () => {
  using d = tempDir();
  const dir = join(d.path, 'smtpd');
  const r0 = run('sh', ['-c', 'tai64n | multilog s4096 n20 "$1"', 'sh', dir], { input: input(120) });
  assert.equal(r0.code, 0);
  const files = [...rotated(dir), join(dir, 'current')];
  // the backup holds the rotated files, converted to Rome's local time as convert-multilog does
  const backup = join(d.path, 'qmail-smtpd.backup');
  writeFileSync(backup, reference(rotated(dir), 'Europe/Rome'), 'latin1');
  const r = logs(['--utc', '--tz', 'Europe/Rome', backup, dir], { TZ: 'Asia/Tokyo' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, reference(files));
  // without --tz the readable times are read in TZ
  const t = logs(['--utc', backup], { TZ: 'Europe/Rome' });
  assert.equal(t.stdout, reference(rotated(dir)));
});

test('--since, --until, --ip, --kind and --json', () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  // the capture, with its own labels (2026-11-22 05:09:58 .. 05:10:00 UTC)
  writeFileSync(f, FIX, 'latin1');
  const all = logs(['--utc', f]).stdout.split('\n').slice(0, -1);
  const since = logs(['--utc', '--since', '2026-11-22T05:09:59.7Z', '--until', '2026-11-22 05:10:00', f]);
  assert.equal(since.code, 0, since.stderr);
  assert.deepEqual(
    since.stdout.split('\n').slice(0, -1),
    all.filter((l) => l.slice(0, 29) >= '2026-11-22 05:09:59.7' && l.slice(0, 29) <= '2026-11-22 05:10:00.000000000'),
  );
  const ip = logs(['--utc', '--ip', '127.0.0.4', f]).stdout.split('\n').slice(0, -1);
  assert.ok(ip.length >= 5);
  assert.ok(ip.every((l) => l.includes('127.0.0.4')));
  const net = logs(['--utc', '--ip', '127.0.0.0/29', '--kind', 'decision', f]).stdout.split('\n').slice(0, -1);
  assert.deepEqual(
    net.map((l) => l.slice(30)),
    ['jgreylist[5798]: 127.0.0.2: GREY first time', 'jgreylist[5840]: 127.0.0.3: GREY too soon', 'jgreylist[5883]: 127.0.0.4: OK known', 'jgreylist[6015]: 127.0.0.5: OK known'],
  );
  const json = logs(['--json', '--kind', 'qlogenvelope', '--kind', 'readfailed', f]);
  const events = json.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    events.map((e) => [e.kind, e.ip]),
    [
      ['qlogenvelope', '127.0.0.4'],
      ['qlogenvelope', '127.0.0.9'],
      ['readfailed', '127.0.0.5'],
    ],
  );
  assert.equal(events[0]!.time, '2026-11-22T05:09:59.716059500Z');
  assert.equal(events[0]!.file, f);
  assert.equal(events[0]!.line, 21);
  assert.equal(events[0]!.result, 'accepted');
});

test('qgrey logs | head -1 ends quietly', () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, run('tai64n', [], { input: input(40000) }).stdout);
  const r = run('bash', ['-c', 'set -o pipefail; "$1" "$2" logs --utc "$3" | head -1', 'sh', process.execPath, QGREY, f]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.split('\n').length, 2);
});

test('bad input: a one-line error and exit 100', () => {
  using d = tempDir();
  mkdirSync(join(d.path, 'empty'));
  for (const [args, msg] of [
    [[join(d.path, 'nope')], /^qgrey: fatal: unable to read log '.*nope': no such file or directory\n$/],
    [[join(d.path, 'empty')], /^qgrey: fatal: unable to read log directory '.*empty': no 'current' and no @….s files: expected a multilog directory\n$/],
    [[join(d.path, 'no*match')], /^qgrey: fatal: unable to read log '.*no\*match': the pattern matches no file\n$/],
    [['--since', 'yesterday', '-'], /^qgrey: fatal: unable to parse --since 'yesterday': expected a duration/],
    [['--ip', '1.2.3.999', '-'], /^qgrey: fatal: unable to parse --ip '1.2.3.999': expected an IPv4 or IPv6 address or network/],
    [['--tz', 'Mars/Base', '-'], /^qgrey: fatal: unknown time zone 'Mars\/Base' in --tz/],
    [['--kind', 'nonsense', '-'], /^qgrey: usage: unable to parse --kind 'nonsense': expected one of qlogenvelope, .*\(try 'qgrey logs --help'\)\n$/],
  ] as const) {
    const r = qgrey(['logs', ...args], { input: '' });
    assert.equal(r.code, 100, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stdout, '');
  }
});
