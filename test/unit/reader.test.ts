// The streaming reader: sources, chunk boundaries, bad and partial lines, needle mode,
// compressed files by magic, backup + live dedupe, readable stamps in a zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openLogs, type LogRecord } from '../../src/logs/read.js';
import { encodeLabel } from '../../src/core/tai64n.js';
import { Zone } from '../../src/core/zone.js';
import { acceptedFacts } from '../../src/core/logline.js';
import { run, tempDir } from '../helpers/util.js';
import { seeded } from '../helpers/random.js';

const T0 = 1_790_000_000;
const L = (i: number, body: string) => `${encodeLabel({ sec: T0 + i, nsec: i * 1000 })} ${body}\n`;
const ACC = (ip: string) =>
  `qlogenvelope: result=accepted code=250 reason=rcptto detail=chkuser helo=h.example mailfrom=a@b.example rcptto=c@example.org relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=192.0.2.10 localport=25 remoteip=${ip} remoteport=1 remotehost= qp= pid=7`;

async function readAll(paths: string[], opts: Parameters<typeof openLogs>[1] = {}) {
  const warnings: string[] = [];
  const { records, stats } = openLogs(paths, { zone: new Zone('UTC'), warn: (m) => warnings.push(m), ...opts });
  const out: LogRecord[] = [];
  for await (const r of records) out.push(r);
  return { out, stats, warnings };
}

test('a malformed label in the middle is reported with file and line and loses no neighbour', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, L(1, 'one') + '@400000006B0279082bdbfd3c upper\n' + L(2, 'two') + '@4000 short\n' + '@400000006b0279082bdbfd3c0 long\n' + L(3, 'three'));
  const { out, stats, warnings } = await readAll([f]);
  assert.deepEqual(out.map((r) => r.body), ['one', 'two', 'three']);
  assert.deepEqual(out.map((r) => r.lineno), [1, 3, 6]);
  assert.equal(stats.bad, 3);
  assert.equal(stats.lines, 6);
  assert.equal(warnings.length, 3);
  assert.match(warnings[0]!, new RegExp(`^${f}:2: skipped a line with a malformed TAI64N label \\(upper-case`));
  assert.match(warnings[1]!, /:4: .*4 hex digits/);
  assert.match(warnings[2]!, /:5: .*more than 24/);
});

test('lines across chunk boundaries, CRLF, binary junk and a 1 MB line; needle mode counts the same lines', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  const parts: string[] = [];
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % 1000;
  const want: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const k = rnd();
    let body: string;
    if (k < 300) body = ACC(`198.51.100.${i % 250}`) + (k < 30 ? '\r' : '');
    else if (k < 310) body = 'junk \x00\x01\xff\xfe\x7f end';
    else body = `tcpserver: status: ${i}/20 ${'x'.repeat(k)}`;
    if (i === 1500) body = 'big ' + 'y'.repeat(1 << 20);
    parts.push(L(i, body));
    want.push(body.endsWith('\r') ? body.slice(0, -1) : body);
  }
  writeFileSync(f, parts.join(''), 'latin1');
  const all = await readAll([f]);
  assert.equal(all.out.length, 3000);
  assert.equal(all.stats.lines, 3000);
  assert.deepEqual(all.out.map((r) => r.line.endsWith('\r') ? r.line.slice(26, -1) : r.line.slice(26)), want);
  assert.ok(all.out.every((r, i) => r.lineno === i + 1 && r.stamp!.sec === T0 + i));
  const junk = all.out.find((r) => r.line.includes('junk'))!;
  assert.equal(junk.ascii, false);
  assert.equal(junk.event().kind, 'other');
  const needle = await readAll([f], { needle: 'result=accepted code=250' });
  assert.equal(needle.stats.lines, 3000);
  const expect = all.out.filter((r) => r.line.includes('result=accepted code=250'));
  assert.deepEqual(needle.out.map((r) => r.lineno), expect.map((r) => r.lineno));
  assert.deepEqual(needle.out.map((r) => r.line), expect.map((r) => r.line));
  for (const r of needle.out) assert.equal(acceptedFacts(r.body)?.remoteip, `198.51.100.${(r.lineno - 1) % 250}`);
});

test('UTF-8 bodies are decoded; lines go out byte for byte as latin1', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, Buffer.from(L(1, ACC('198.51.100.6').replace('mailfrom=a@b.example', 'mailfrom=ü@sender.example').replace('helo=h.example', 'helo=bad helo x')), 'utf8'));
  const { out } = await readAll([f]);
  assert.equal(out[0]!.ascii, false);
  assert.match(out[0]!.body, /mailfrom=ü@sender\.example/);
  assert.equal(Buffer.from(out[0]!.line + '\n', 'latin1').toString('utf8'), L(1, ACC('198.51.100.6').replace('mailfrom=a@b.example', 'mailfrom=ü@sender.example').replace('helo=h.example', 'helo=bad helo x')));
  const e = out[0]!.event();
  assert.ok(e.kind === 'qlogenvelope' && e.helo === 'bad helo x' && e.mailfrom === 'ü@sender.example');
});

test('a multilog dir: rotated files in order, current last, its partial last line held back; other files ignored', async () => {
  using d = tempDir();
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  writeFileSync(join(dir, `${encodeLabel({ sec: T0 + 3, nsec: 0 })}.s`), L(2, 'b') + L(3, 'c'));
  writeFileSync(join(dir, `${encodeLabel({ sec: T0 + 1, nsec: 0 })}.s`), L(0, 'z') + L(1, 'a'));
  writeFileSync(join(dir, 'current'), L(4, 'd') + L(5, 'e is being written').slice(0, -1));
  for (const n of ['lock', 'state', 'previous', 'processed', 'newstate']) writeFileSync(join(dir, n), L(9, 'never'));
  const { out, stats, warnings } = await readAll([dir]);
  assert.deepEqual(out.map((r) => r.body), ['z', 'a', 'b', 'c', 'd']);
  assert.equal(stats.partial, 1);
  assert.equal(stats.files, 3);
  // the line multilog is writing is normal: counted, not warned about
  assert.deepEqual(warnings, []);
  assert.equal(stats.ends.get(join(dir, 'current'))!.offset, L(4, 'd').length);
  // a plain file's unterminated last line is a line
  const f = join(d.path, 'plain');
  writeFileSync(f, L(1, 'a') + L(2, 'b').slice(0, -1));
  assert.deepEqual((await readAll([f])).out.map((r) => r.body), ['a', 'b']);
  // --since skips a rotated file older than the start by its name alone
  const since = await readAll([dir], { since: { sec: T0 + 2, nsec: 0 } });
  assert.deepEqual(since.out.map((r) => r.body), ['b', 'c', 'd']);
  assert.equal(since.stats.skippedFiles, 1);
  const until = await readAll([dir], { until: { sec: T0 + 2, nsec: 2000 } });
  assert.deepEqual(until.out.map((r) => r.body), ['z', 'a', 'b']);
});

test('compressed copies are read by their magic bytes, whatever their names', async () => {
  using d = tempDir();
  const text = L(1, 'one') + L(2, ACC('192.0.2.9')) + L(3, 'three');
  const plain = join(d.path, 'plain.log');
  writeFileSync(plain, text);
  writeFileSync(join(d.path, 'g.txt'), gzipSync(Buffer.from(text)));
  for (const [tool, name] of [
    ['bzip2', 'b.gz'],
    ['xz', 'x'],
    ['zstd', 'z.log'],
  ] as const) {
    const r = run('sh', ['-c', `${tool} -c < "$1" > "$2"`, 'sh', plain, join(d.path, name)]);
    assert.equal(r.code, 0, r.stderr);
  }
  for (const name of ['g.txt', 'b.gz', 'x', 'z.log']) {
    const { out, stats } = await readAll([join(d.path, name)]);
    assert.deepEqual(out.map((r) => r.body.slice(0, 12)), ['one', 'qlogenvelope', 'three'], name);
    assert.equal(stats.lines, 3, name);
  }
  // a corrupt compressed file is a one-line error
  writeFileSync(join(d.path, 'bad'), Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from('nonsense')]));
  await assert.rejects(readAll([join(d.path, 'bad')]), /unable to decompress .*bad.* with xz/);
});

test('a backup converted to local time and the live dir: lines in both are delivered once, in time order', async () => {
  using d = tempDir();
  const rome = new Zone('Europe/Rome');
  const dir = join(d.path, 'smtpd');
  mkdirSync(dir);
  const base = Date.UTC(2024, 6, 15, 10, 0) / 1000;
  const lines = Array.from({ length: 11 }, (_, i) => `${encodeLabel({ sec: base + i * 60, nsec: 123456789 })} line ${i}\n`);
  // the live dir holds lines 6..10, the backup (converted by tai64nlocal in Rome) lines 0..7
  writeFileSync(join(dir, 'current'), lines.slice(6).join(''));
  const conv = run('tai64nlocal', [], { input: lines.slice(0, 8).join(''), env: { TZ: 'Europe/Rome' } });
  assert.equal(conv.code, 0);
  const backup = join(d.path, 'qmail-smtpd.2024-07-15');
  writeFileSync(backup, conv.stdout);
  const { out, stats } = await readAll([dir, backup], { zone: rome });
  assert.deepEqual(out.map((r) => r.body), lines.map((_, i) => `line ${i}`));
  assert.deepEqual(out.map((r) => r.stamp), lines.map((_, i) => ({ sec: base + i * 60, nsec: 123456789 })));
  assert.equal(stats.duplicates, 2, 'lines 6 and 7 are in both');
  // a line repeated inside one source is not a duplicate
  writeFileSync(join(dir, 'current'), lines[6]! + lines[6]!);
  const again = await readAll([dir, backup], { zone: rome });
  assert.equal(again.out.filter((r) => r.body === 'line 6').length, 2);
});

test('readable stamps (ns and ms) in a zone; a time in the DST fold is the earlier instant and counted', async () => {
  using d = tempDir();
  const f = join(d.path, 'backup');
  // Rome, 2024-10-27: 02:00-02:59 local happens twice (00:xx UTC in CEST, 01:xx UTC in CET)
  writeFileSync(f, '2024-10-27 01:59:59.999999999 a\n2024-10-27 02:30:00.500 b\n2024-10-27 03:00:00.000000001 c\n2024-03-31 02:30:00.000000000 gap\n');
  const { out, stats } = await readAll([f], { zone: new Zone('Europe/Rome') });
  assert.deepEqual(out.map((r) => r.body), ['a', 'b', 'c', 'gap']);
  const byBody = new Map(out.map((r) => [r.body, r.stamp]));
  assert.deepEqual(byBody.get('a'), { sec: Date.UTC(2024, 9, 26, 23, 59, 59) / 1000, nsec: 999999999 });
  assert.deepEqual(byBody.get('b'), { sec: Date.UTC(2024, 9, 27, 0, 30) / 1000, nsec: 500000000 });
  assert.deepEqual(byBody.get('c'), { sec: Date.UTC(2024, 9, 27, 2, 0) / 1000, nsec: 1 });
  assert.deepEqual(byBody.get('gap'), { sec: Date.UTC(2024, 2, 31, 1, 30) / 1000, nsec: 0 });
  assert.equal(stats.folds, 1);
  assert.equal(stats.gaps, 1);
  // the same file read in UTC
  const utc = await readAll([f], { zone: new Zone('UTC') });
  assert.equal(utc.stats.folds, 0);
  assert.deepEqual(utc.out[1]!.stamp, { sec: Date.UTC(2024, 9, 27, 2, 30) / 1000, nsec: 500000000 });
});

test('lines of 17 MiB (over the 16 MiB cap) are skipped with their own line number, the lines after them keep theirs', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openLogs } = await import('../../src/logs/read.js');
  const { Zone } = await import('../../src/core/zone.js');
  const dir = mkdtempSync(join(tmpdir(), 'qgrey-long-'));
  try {
    const l = '@4000000065a1b2c312345678 ';
    const f = join(dir, 'long.log');
    writeFileSync(f, `${l}before\n${l}${'x'.repeat(17 << 20)}\n${l}after\n${l}${'y'.repeat(17 << 20)}`);
    const warnings: string[] = [];
    const { records, stats } = openLogs([f], { zone: new Zone('UTC'), warn: (m) => warnings.push(m) });
    const got: string[] = [];
    for await (const r of records) got.push(`${r.lineno} ${r.body}`);
    assert.deepEqual(got, ['1 before', '3 after']);
    assert.deepEqual(warnings.map((w) => w.slice(0, w.indexOf(': '))), [`${f}:2`, `${f}:4`]);
    assert.equal(stats.lines, 4);
    assert.equal(stats.bad, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keep: labelled lines it refuses are counted and passed over; malformed labels, unlabelled lines and several groups are not', async () => {
  using d = tempDir();
  const f = join(d.path, 'log');
  writeFileSync(f, L(1, 'qone') + L(2, 'xdrop') + '@4000 xshort\n' + L(3, 'xdrop again') + 'plain xline\n' + L(4, 'qtwo'));
  const keep = (b: Buffer, at: number) => b[at] === 113;
  const { out, stats, warnings } = await readAll([f], { keep });
  assert.deepEqual(out.map((r) => r.body), ['qone', 'plain xline', 'qtwo']);
  assert.deepEqual(out.map((r) => r.lineno), [1, 5, 6]);
  assert.equal(stats.lines, 6);
  assert.equal(stats.bad, 1);
  assert.equal(warnings.length, 1);
  // the unlabelled line takes its order from the passed-over line before it, as without keep
  const all = await readAll([f]);
  assert.deepEqual(out[1]!.order, all.out.find((r) => r.body === 'plain xline')!.order);
  // a second group: every line is read, so duplicates are counted the same with or without keep
  const g = join(d.path, 'backup');
  writeFileSync(g, L(2, 'xdrop') + L(3, 'xdrop again'));
  const two = await readAll([f, g], { keep });
  const none = await readAll([f, g]);
  assert.equal(two.stats.duplicates, none.stats.duplicates);
  assert.deepEqual(two.out.map((r) => r.body), none.out.map((r) => r.body));
});

test('several sources merge in time order, a tie going to the source named first, whether they overlap or follow each other', async () => {
  using d = tempDir();
  const rnd = seeded(0x5eed);
  // five sources: three overlapping with many equal times, two that follow each other
  const sources: { sec: number; body: string }[][] = [];
  for (let g = 0; g < 5; g++) {
    const lines: { sec: number; body: string }[] = [];
    let t = g < 3 ? 0 : g === 3 ? 5000 : 9000;
    for (let i = 0; i < 400; i++) {
      t += g < 3 ? rnd(3) : 1 + rnd(5); // steps of 0 to 2 s: ties within and across sources
      lines.push({ sec: t, body: `g${g} n${i}` });
    }
    sources.push(lines);
  }
  // the order the old loop gave: each time the earliest next line of all, the first source on a tie
  const want: string[] = [];
  const at = sources.map(() => 0);
  for (;;) {
    let best = -1;
    for (let g = 0; g < sources.length; g++) if (at[g]! < sources[g]!.length && (best < 0 || sources[g]![at[g]!]!.sec < sources[best]![at[best]!]!.sec)) best = g;
    if (best < 0) break;
    want.push(sources[best]![at[best]!++]!.body);
  }
  const paths = sources.map((lines, g) => {
    const p = join(d.path, `src${g}`);
    writeFileSync(p, lines.map((l) => `${encodeLabel({ sec: T0 + l.sec, nsec: 0 })} ${l.body}\n`).join(''));
    return p;
  });
  const { out, stats } = await readAll(paths);
  assert.equal(stats.duplicates, 0);
  assert.deepEqual(out.map((r) => r.body), want);
});
