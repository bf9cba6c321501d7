// Options and usage (issue 16 points 7, 8, 14): every --help example runs without a usage
// error; a repeatable option takes one value per use; a bad value is one line naming the
// option, quoting the value and saying what was expected (exit 100); usage errors point at
// the subcommand's --help; subcommand --help does not offer --version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { commands } from '../../src/commands/index.js';
import { FIXTURES, giveTree, qgrey, tempDir } from '../helpers/util.js';
import { exampleHost } from './example-host.js';

interface Example {
  command: string;
  line: string;
}

/** Run a command's builder against a real yargs, noting its .example() lines and subcommands. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function examplesOf(mods: readonly CommandModule<any, any>[], prefix: string): Example[] {
  const out: Example[] = [];
  for (const m of mods) {
    const name = prefix + String(m.command).split(' ')[0];
    const y = yargs([]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const subs: CommandModule<any, any>[] = [];
    const proxy: Argv = new Proxy(y, {
      get(target, p) {
        const v: unknown = Reflect.get(target, p);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (p === 'example') out.push({ command: name, line: String(args[0]).replace('$0', 'qgrey') });
          if (p === 'command' && Array.isArray(args[0])) subs.push(...args[0]);
          const r: unknown = Reflect.apply(v, target, args);
          return r === target ? proxy : r;
        };
      },
    });
    if (typeof m.builder === 'function') void m.builder(proxy);
    out.push(...examplesOf(subs, name + ' '));
  }
  return out;
}

test('every .example() of every --help runs without a usage error (temp host, local dnsmasq)', async () => {
  const examples = examplesOf(commands, '');
  const names = new Set(examples.map((e) => e.command));
  for (const c of ['logs', 'rebuild', 'clean', 'evict', 'list', 'check', 'whitelist add', 'whitelist mx', 'whitelist spf', 'blacklist load', 'addlist', 'tcprules', 'stats']) {
    assert.ok(names.has(c), `no example found for ${c}`);
  }
  await using host = await exampleHost();
  const failed: string[] = [];
  for (const ex of examples) {
    const line = host.rewrite(ex.line);
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', line], { cwd: host.work, env: host.env, encoding: 'utf8', timeout: 60_000 });
    // an example that names no log reads the built-in default, which this host does not have
    const defaultLogs = r.status === 100 && /^qgrey: fatal: unable to read log '\/var\/log\/qmail\/smtpd': no such file or directory\n$/.test(r.stderr) && !/\/var\/log\//.test(ex.line);
    // import's examples need a MySQL server, which this host does not have: a temporary failure to connect is theirs
    const noMysql = ex.command === 'import' && r.status === 111 && /^qgrey: fatal: unable to connect to MySQL at /.test(r.stderr);
    const why = `${ex.line}\n  exit ${r.status} ${r.signal ?? ''}\n  stderr: ${r.stderr.trim()}`;
    if (/qgrey: usage:|internal error/.test(r.stderr)) failed.push(why);
    // `| diff FILE -` exits 1 when the rules change; anything else must succeed
    else if (!(r.status === 0 || defaultLogs || noMysql || (r.status === 1 && / \| diff /.test(ex.line)))) failed.push(why);
  }
  assert.deepEqual(failed, [], `${failed.length} of ${examples.length} examples failed`);
  assert.ok(existsSync(join(host.root, 'tmp/grey.svg')), 'the stats example wrote its chart');
  assert.match(readFileSync(join(host.root, 'var/qmail/control/qgrey/whitelist'), 'utf8'), /mx:nd\.edu/);
});

test('a repeatable option takes one value per use: --exclude and --dig leave the positionals alone', () => {
  using t = tempDir();
  const tree = join(t.path, 'tree');
  mkdirSync(tree);
  giveTree(tree);
  const log = join(t.path, 'old.log');
  writeFileSync(log, readFileSync(join(FIXTURES, 'stats/smtpd/current')));
  const r = qgrey(['rebuild', '--dry-run', '--dir', tree, '--days', '36500', '--exclude', '198.51.100.0/24', '--exclude', '203.0.113.0/24', log]);
  assert.equal(r.code, 0, r.stderr);
  const json = qgrey(['rebuild', '--dry-run', '--json', '--dir', tree, '--days', '36500', '--exclude', '198.51.100.0/24', log]);
  assert.equal(json.code, 0, json.stderr);
  const mx = qgrey(['whitelist', 'mx', '--dry-run', '--listdir', t.path, '--dig', join(FIXTURES, 'lists/dig-mx.test-MX.txt'), 'mx.test']);
  assert.equal(mx.code, 0, mx.stderr);
  assert.match(mx.stdout, /mx:mx\.test/);
  // a second value after one --dig is a domain, not a second file
  const two = qgrey(['whitelist', 'mx', '--dry-run', '--listdir', t.path, '--dig', join(FIXTURES, 'lists/dig-mx.test-MX.txt'), 'mx.test', 'nosuch.test']);
  assert.notEqual(two.code, 0);
  assert.doesNotMatch(two.stderr, /usage|unable to read/);
});

test('a bad value is one line naming the option, quoting the value and saying what was expected (exit 100)', () => {
  using t = tempDir();
  const tree = join(t.path, 'tree');
  mkdirSync(tree);
  const env = { JGREYLIST_DIR: tree, QGREY_LISTDIR: join(t.path, 'lists') };
  const cases: [string[], RegExp, string?][] = [
    [['list', '--holdtime', 'abc'], /^qgrey: fatal: unable to parse --holdtime 'abc': expected a whole number of seconds/],
    [['list', '--holdtime', '-5'], /^qgrey: fatal: unable to parse --holdtime '-5': expected a whole number/],
    [['check', '--holdtime', '2m', '192.0.2.7'], /^qgrey: fatal: unable to parse --holdtime '2m': expected/],
    [['whitelist', 'add', '--dry-run', '--until', '2027-02-30', '192.0.2.7'], /^qgrey: fatal: unable to parse --until '2027-02-30': 2027-02 has 28 days, not 30$/],
    [['stats', '--until', '2027-02-30 10:00:00', '-'], /^qgrey: fatal: unable to parse --until '2027-02-30 10:00:00': 2027-02 has 28 days/],
    [['addlist', '-whitelist', '--dry-run', '2026-02-30', '23:59:59'], /^qgrey: fatal: unable to parse expiry '2026-02-30 23:59:59': 2026-02 has 28 days, not 30$/, '192.0.2.7\n'],
    [['rebuild', '--dry-run', '--days', 'abc', '-'], /^qgrey: fatal: unable to parse --days 'abc': expected a number of days above 0/, ''],
    [['clean', '--dry-run', '--max-age', '-5d'], /^qgrey: fatal: unable to parse --max-age '-5d': expected a number and a unit/],
    [['evict', '--dry-run', '--min-events', '0', '-'], /^qgrey: fatal: unable to parse --min-events '0': expected a whole number, 1 or more$/, ''],
    [['stats', '--top', 'ten', '-'], /^qgrey: fatal: unable to parse --top 'ten': expected a whole number, 0 or more$/, ''],
    [['stats', '--by', 'week', '-'], /^qgrey: usage: unable to parse --by 'week': expected one of day, hour, net \(try 'qgrey stats --help'\)$/, ''],
    [['whitelist', 'spf', '--dry-run', '--min-prefix4', '40', 'example.org'], /^qgrey: fatal: unable to parse --min-prefix4 '40': expected a whole number, 0 to 32$/],
    [['--verison'], /^qgrey: usage: unknown option '--verison' \(did you mean --version\?\) \(try 'qgrey --help'\)$/],
    [['list', '--holdtim', '5'], /^qgrey: usage: unknown option '--holdtim' \(did you mean --holdtime\?\) \(try 'qgrey list --help'\)$/],
    [['lsit'], /^qgrey: usage: unknown command 'lsit' \(did you mean list\?\) \(try 'qgrey --help'\)$/],
  ];
  for (const [args, want, input] of cases) {
    const r = qgrey(args, { env, input: input ?? '' });
    assert.equal(r.code, 100, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr.trimEnd(), want, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${args.join(' ')}\n${r.stderr}`);
  }
  assert.equal(existsSync(join(t.path, 'lists')), false, 'nothing was written');
});

test('usage errors point at the subcommand --help; a bare command group lists its commands', () => {
  const cases: [string[], RegExp][] = [
    [[], /^qgrey: usage: a command is required: logs, rebuild, clean, evict, traps, list, check, whitelist, blacklist, addlist, tcprules, stats, import, sync \(try 'qgrey --help'\)$/],
    [['whitelist'], /^qgrey: usage: a whitelist command is required: add, remove, list, load, lookup, mx, spf\b.* \(try 'qgrey whitelist --help'\)$/],
    [['blacklist'], /^qgrey: usage: a blacklist command is required: add, remove, list, load, lookup \(try 'qgrey blacklist --help'\)$/],
    [['whitelist', 'add'], /^qgrey: usage: missing <addresses\.\.>: .*\(try 'qgrey whitelist add --help'\)$/],
    [['whitelist', 'ad', '192.0.2.7'], /^qgrey: usage: unknown command 'ad' \(did you mean add\?\) \(try 'qgrey whitelist --help'\)$/],
    [['blacklist', 'lookup', '--jsn', '192.0.2.7'], /^qgrey: usage: unknown option '--jsn' \(did you mean --json\?\) \(try 'qgrey blacklist lookup --help'\)$/],
    [['list', 'extra'], /^qgrey: usage: unexpected argument 'extra'.*\(try 'qgrey list --help'\)$/],
  ];
  for (const [args, want] of cases) {
    const r = qgrey(args, { input: '' });
    assert.equal(r.code, 100, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), want, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  }
});

test('subcommand --help lists no --version and no [default: []]; qgrey --version still works', () => {
  for (const args of [['rebuild'], ['whitelist'], ['whitelist', 'add'], ['blacklist', 'lookup'], ['stats'], ['evict'], ['logs']]) {
    const r = qgrey([...args, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /--version/, args.join(' '));
    assert.doesNotMatch(r.stdout, /\[default: \[\]\]/, args.join(' '));
    assert.doesNotMatch(r.stdout, /\[default: "[0-9]+"\]/, `numbers are shown as numbers: ${args.join(' ')}`);
  }
  const top = qgrey(['--help']);
  assert.match(top.stdout, /--version/);
  const v = qgrey(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^[0-9]+\.[0-9]+\.[0-9]+\n$/);
});
