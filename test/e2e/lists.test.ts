// qgrey whitelist/blacklist/addlist through the built bin, on temp list directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qgrey, tempDir, FIXTURES, QGREY } from '../helpers/util.js';

const F = (n: string) => join(FIXTURES, 'lists', n);

test('whitelist load: the seed file, twice, changes the list once', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const r1 = qgrey(['whitelist', 'load', F('whitelist_ip.txt')], { env });
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r1.stdout, 'whitelist manual: 12 added, 0 updated, 0 unchanged\n');
  const text = readFileSync(join(d.path, 'whitelist'), 'utf8');
  assert.match(text, /^129\.74\.\tnever\tmanual\t# nd\.edu$/m);
  assert.match(text, /^64\.157\.4\.78\tnever\tmanual$/m);
  const r2 = qgrey(['whitelist', 'load', F('whitelist_ip.txt')], { env });
  assert.equal(r2.stdout, 'whitelist manual: 0 added, 0 updated, 12 unchanged\n');
  assert.equal(readFileSync(join(d.path, 'whitelist'), 'utf8'), text);
  const l = qgrey(['whitelist', 'lookup', '129.74.1.2', '8.8.8.8'], { env });
  assert.equal(l.stdout, 'WHITE|129.74.1.2|129.74.|never|manual||nd.edu\nNONE|8.8.8.8|||||\n');
  // no temp or lock file left behind
  assert.deepEqual(readdirSync(d.path), ['whitelist']);
});

test('bad input: every bad line reported with its number, nothing applied; --skip-bad loads the rest', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  writeFileSync(join(d.path, 'whitelist'), '1.1.1.1 never manual\n');
  const before = readFileSync(join(d.path, 'whitelist'), 'utf8');
  const r = qgrey(['whitelist', 'load', F('bad_ip.txt')], { env });
  assert.equal(r.code, 100);
  assert.match(r.stderr, /bad_ip\.txt line 3: octet 300 is over 255: '300\.1\.2\.3\\t\\t# octet over 255'/);
  assert.match(r.stderr, /line 4: prefix length 33 is over 32/);
  assert.match(r.stderr, /line 5: a prefix has at most three octets/);
  assert.match(r.stderr, /line 6: expected one address or prefix per line/);
  assert.match(r.stderr, /qgrey: fatal: .*4 bad lines; nothing loaded/);
  assert.equal(readFileSync(join(d.path, 'whitelist'), 'utf8'), before);
  const s = qgrey(['whitelist', 'load', '--skip-bad', F('bad_ip.txt')], { env });
  assert.equal(s.code, 0);
  assert.match(s.stdout, /2 added.*4 bad lines skipped/);
  const u = qgrey(['blacklist', 'load', join(d.path, 'no-such-file')], { env });
  assert.equal(u.code, 100);
  assert.match(u.stderr, /^qgrey: fatal: unable to read .*no-such-file: no such file or directory\n$/);
  const a = qgrey(['blacklist', 'add', '1.2.3.4/33'], { env });
  assert.equal(a.code, 100);
  assert.equal(a.stderr, "qgrey: fatal: bad address '1.2.3.4/33': prefix length 33 is over 32\n");
  assert.equal(existsSync(join(d.path, 'blacklist')), false);
});

test('a list that cannot be read is a temporary error; a symlinked list is not replaced', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  mkdirSync(join(d.path, 'whitelist'));
  const r = qgrey(['whitelist', 'lookup', '1.2.3.4'], { env });
  assert.equal(r.code, 111);
  assert.match(r.stderr, /unable to read .*whitelist/);
  writeFileSync(join(d.path, 'elsewhere'), '');
  symlinkSync(join(d.path, 'elsewhere'), join(d.path, 'blacklist'));
  const s = qgrey(['blacklist', 'add', '1.2.3.4'], { env });
  assert.equal(s.code, 100);
  assert.match(s.stderr, /symbolic link/);
  assert.equal(readFileSync(join(d.path, 'elsewhere'), 'utf8'), '');
});

test('blacklist add with a message, list, remove; --listdir beats QGREY_LISTDIR', () => {
  using d = tempDir();
  using other = tempDir();
  const env = { QGREY_LISTDIR: other.path };
  const ld = ['--listdir', d.path];
  assert.equal(qgrey(['blacklist', 'add', '203.0.113.7', '198.51.100.0/24', '--message', 'Go "away" %', '--comment', 'spam run', ...ld], { env }).code, 0);
  assert.equal(existsSync(join(other.path, 'blacklist')), false);
  assert.match(readFileSync(join(d.path, 'blacklist'), 'utf8'), /^203\.0\.113\.7\tnever\tmanual\t"Go \\"away\\" %"\t# spam run$/m);
  const l = qgrey(['blacklist', 'list', ...ld], { env });
  assert.equal(l.stdout, 'BLACK|203.0.113.7|never|manual|Go "away" %|spam run\nBLACK|198.51.100.0/24|never|manual|Go "away" %|spam run\n');
  const j = JSON.parse(qgrey(['blacklist', 'lookup', '--json', '198.51.100.9', ...ld], { env }).stdout) as { match: { label: string; message: string } }[];
  assert.equal(j[0]!.match.label, '198.51.100.0/24');
  assert.equal(j[0]!.match.message, 'Go "away" %');
  // lookup prints list's fields after the address asked about
  assert.equal(qgrey(['blacklist', 'lookup', '198.51.100.9', ...ld], { env }).stdout, 'BLACK|198.51.100.9|198.51.100.0/24|never|manual|Go "away" %|spam run\n');
  // a whitelist entry has no message (not the blacklist's default reply)
  assert.equal(qgrey(['whitelist', 'add', '-q', '192.0.2.0/24', ...ld], { env }).code, 0);
  const wj = JSON.parse(qgrey(['whitelist', 'lookup', '--json', '192.0.2.5', ...ld], { env }).stdout) as { match: { label: string; message: unknown } }[];
  assert.equal(wj[0]!.match.label, '192.0.2.0/24');
  assert.equal(wj[0]!.match.message, null);
  assert.equal(qgrey(['whitelist', 'remove', '-q', '192.0.2.0/24', ...ld], { env }).code, 0);
  const miss = qgrey(['blacklist', 'remove', '203.0.113.7', '192.0.2.1', ...ld], { env });
  assert.equal(miss.code, 100);
  assert.match(miss.stderr, /not in the blacklist: 192\.0\.2\.1; nothing removed/);
  assert.equal(qgrey(['blacklist', 'remove', '203.0.113.7', ...ld], { env }).code, 0);
  assert.equal(qgrey(['blacklist', 'lookup', '203.0.113.7', ...ld], { env }).stdout, 'NONE|203.0.113.7|||||\n');
  const w = qgrey(['whitelist', 'add', '1.2.3.4', '--message', 'x', ...ld], { env });
  assert.equal(w.code, 100);
  assert.match(w.stderr, /unknown option '--message' \(try 'qgrey whitelist add --help'\)/);
});

test('addlist alias: the seed cron line keeps working', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, TZ: 'UTC' };
  const r = qgrey(['addlist', '-blacklist', '2030-12-31', '23:59:59'], { env, input: readFileSync(F('blacklist_ip.txt')) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(d.path, 'blacklist'), 'utf8'), /^198\.51\.100\.\t2030-12-31T23:59:59Z\tmanual\t# snowshoe range$/m);
  const w = qgrey(['addlist', '-whitelist', '9999-12-31', '23:59:59'], { env, input: readFileSync(F('whitelist_ip.txt')) });
  assert.equal(w.code, 0, w.stderr);
  assert.match(readFileSync(join(d.path, 'whitelist'), 'utf8'), /^192\.74\.137\.\tnever\tmanual\t# theworld\.com$/m);
  const bad = qgrey(['addlist', '-whitelist', 'tomorrow'], { env, input: '1.2.3.4\n' });
  assert.equal(bad.code, 100);
  assert.match(bad.stderr, /expected YYYY-MM-DD HH:MM:SS/);
});

test('load --source: a named source is replaced as a whole; manual entries stay; expired entries are hidden', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  writeFileSync(join(d.path, 'p1.txt'), '192.0.2.1\n192.0.2.2\n');
  writeFileSync(join(d.path, 'p2.txt'), '192.0.2.2\n192.0.2.3\n');
  qgrey(['whitelist', 'add', '192.0.2.1', '--comment', 'by hand'], { env });
  assert.match(qgrey(['whitelist', 'load', '--source', 'file:partners', join(d.path, 'p1.txt')], { env }).stdout, /2 added, 0 removed, 0 kept/);
  assert.match(qgrey(['whitelist', 'load', '--source', 'file:partners', join(d.path, 'p2.txt')], { env }).stdout, /1 added, 1 removed, 1 kept/);
  const l = qgrey(['whitelist', 'list'], { env }).stdout;
  assert.equal(l, 'WHITE|192.0.2.1|never|manual||by hand\nWHITE|192.0.2.2|never|file:partners||\nWHITE|192.0.2.3|never|file:partners||\n');
  writeFileSync(join(d.path, 'whitelist'), readFileSync(join(d.path, 'whitelist'), 'utf8') + '192.0.2.9 2001-01-01T00:00:00Z manual\n');
  assert.doesNotMatch(qgrey(['whitelist', 'list'], { env }).stdout, /192\.0\.2\.9/);
  assert.match(qgrey(['whitelist', 'list', '--all'], { env }).stdout, /192\.0\.2\.9\|2001-01-01T00:00:00Z\(expired\)/);
  assert.equal(qgrey(['whitelist', 'lookup', '192.0.2.9'], { env }).stdout, 'NONE|192.0.2.9|||||\n');
});

test('two loads at the same time: both land (the lock serialises them)', async () => {
  using d = tempDir();
  const files = Array.from({ length: 4 }, (_, k) => {
    const p = join(d.path, `in${k}.txt`);
    writeFileSync(p, Array.from({ length: 200 }, (_, i) => `10.${k}.${i}.1`).join('\n') + '\n');
    return p;
  });
  const env = { ...process.env, QGREY_LISTDIR: d.path };
  await Promise.all(
    files.map(
      (f) =>
        new Promise<void>((res, rej) => {
          const c = spawn(process.execPath, [QGREY, 'whitelist', 'load', f], { env, stdio: 'ignore' });
          c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`exit ${code}`))));
        }),
    ),
  );
  const entries = readFileSync(join(d.path, 'whitelist'), 'utf8').split('\n').filter((l) => /^10\./.test(l));
  assert.equal(entries.length, 800);
});

test('the list lock: a dead holder is taken over; a live one, a FIFO, a directory or a symlink planted there ends in 111 with one line after the wait', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path, QGREY_LOCK_WAIT: '1' };
  const lock = join(d.path, '.whitelist.lock');
  // a holder that is gone (pid 2^22+1 is beyond pid_max's default and never runs): taken over
  writeFileSync(lock, '4194305 1 qgrey whitelist\n');
  const r = qgrey(['whitelist', 'add', '192.0.2.1'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(lock), false);
  // a live holder (this test's own process, with its real start time): waited for, then 111
  const start = readFileSync(`/proc/${process.pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[19];
  writeFileSync(lock, `${process.pid} ${start} qgrey blacklist\n`);
  const held = qgrey(['whitelist', 'add', '192.0.2.2'], { env });
  assert.equal(held.code, 111);
  assert.equal(held.stderr, `qgrey: fatal: list ${join(d.path, 'whitelist')} is locked by another run (pid ${process.pid}, qgrey blacklist); try again later\n`);
  rmSync(lock);
  const victim = join(d.path, 'victim');
  writeFileSync(victim, 'keep\n');
  const plants: [string, () => void][] = [
    ['a FIFO', () => execFileSync('mkfifo', [lock])],
    ['a directory', () => mkdirSync(lock)],
    ['a symbolic link', () => symlinkSync(victim, lock)],
  ];
  for (const [what, plant] of plants) {
    plant();
    const p = qgrey(['whitelist', 'add', '192.0.2.3'], { env, timeout: 20_000 });
    assert.equal(p.code, 111, what);
    assert.equal(p.stderr, `qgrey: fatal: unable to lock list ${join(d.path, 'whitelist')}: ${lock} is ${what}, not a lock file; remove it\n`);
    rmSync(lock, { recursive: true });
  }
  assert.equal(readFileSync(victim, 'utf8'), 'keep\n');
  assert.doesNotMatch(readFileSync(join(d.path, 'whitelist'), 'utf8'), /192\.0\.2\.[23]/);
});

test('--help has examples for every list command', () => {
  for (const args of [['whitelist', 'load'], ['whitelist', 'spf'], ['whitelist', 'mx'], ['blacklist', 'add'], ['addlist'], ['tcprules']]) {
    const r = qgrey([...args, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:/, args.join(' '));
  }
});

test('--json on list edits: what changed, in the documented shape (add, remove, load, addlist)', () => {
  using d = tempDir();
  const env = { QGREY_LISTDIR: d.path };
  const j = (args: string[], input?: string) => {
    const r = qgrey([...args, '--json'], { env, ...(input !== undefined ? { input } : {}) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').length, 2, 'one line');
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const src = (source: string, w: Partial<Record<'added' | 'updated' | 'removed' | 'unchanged', string[]>>, domain: string | null = null) => ({
    source, domain, added: w.added ?? [], updated: w.updated ?? [], removed: w.removed ?? [], unchanged: w.unchanged ?? [],
  });
  const rep = (list: string, written: boolean, sources: object[], rest: object = {}, dryRun = false) => ({ list, dryRun, written, sources, bad: [], skipped: [], failed: [], ...rest });
  assert.deepEqual(j(['whitelist', 'add', '192.0.2.0/24', '129.74']), rep('whitelist', true, [src('manual', { added: ['192.0.2.0/24', '129.74.'] })]));
  assert.deepEqual(j(['whitelist', 'add', '192.0.2.0/24', '198.51.100.7', '--comment', 'partner']), rep('whitelist', true, [src('manual', { added: ['198.51.100.7'], updated: ['192.0.2.0/24'] })]));
  assert.deepEqual(j(['whitelist', 'add', '198.51.100.7']), rep('whitelist', false, [src('manual', { unchanged: ['198.51.100.7'] })]));
  const before = readFileSync(join(d.path, 'whitelist'), 'utf8');
  assert.deepEqual(j(['whitelist', 'remove', '129.74.', '--dry-run']), rep('whitelist', true, [src('manual', { removed: ['129.74.'] })], {}, true));
  assert.equal(readFileSync(join(d.path, 'whitelist'), 'utf8'), before, 'a dry run writes nothing');
  assert.deepEqual(j(['whitelist', 'remove', '129.74.']), rep('whitelist', true, [src('manual', { removed: ['129.74.'] })]));
  // a named source is replaced as a whole: what went away is removed
  writeFileSync(join(d.path, 'p1.txt'), '203.0.113.1\n203.0.113.2\n');
  writeFileSync(join(d.path, 'p2.txt'), '203.0.113.2\n203.0.113.3\n');
  assert.deepEqual(j(['whitelist', 'load', '--source', 'file:p', join(d.path, 'p1.txt')]), rep('whitelist', true, [src('file:p', { added: ['203.0.113.1', '203.0.113.2'] })]));
  assert.deepEqual(j(['whitelist', 'load', '--source', 'file:p', join(d.path, 'p2.txt')]), rep('whitelist', true, [src('file:p', { added: ['203.0.113.3'], removed: ['203.0.113.1'], unchanged: ['203.0.113.2'] })]));
  // bad lines skipped are listed with their number and why
  const skip = qgrey(['blacklist', 'load', '--skip-bad', '--json', F('bad_ip.txt')], { env });
  assert.equal(skip.code, 0, skip.stderr);
  const s = JSON.parse(skip.stdout) as { list: string; sources: { added: string[] }[]; bad: { line: number; text: string; why: string }[] };
  assert.equal(s.list, 'blacklist');
  assert.equal(s.sources[0]!.added.length, 2);
  assert.deepEqual(s.bad.map((b) => b.line), [3, 4, 5, 6]);
  assert.match(s.bad[0]!.why, /octet 300 is over 255/);
  // the seed's cron line, for a script; -q and --json: the JSON
  assert.deepEqual(j(['addlist', '-whitelist', '9999-12-31', '23:59:59', '-q'], '64.157.4.78\n'), rep('whitelist', true, [src('manual', { added: ['64.157.4.78'] })]));
});
