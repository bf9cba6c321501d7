// The man pages: mandoc -Tlint clean; qgrey(1) and `--help` cannot drift apart (every long
// option of every subcommand is in both); every EXAMPLES command line of every page runs,
// with /var, /etc and /tmp pointed at a temp copy of the fixtures.
//
// What counts as a command line in EXAMPLES (literal displays only): a line starting with
// `$ `, or a crontab line (five time fields, then the command; NAME=value lines set the
// environment). A display starting with `#!/bin/sh` is checked with `sh -n`; a display of
// tcprules lines is compiled with the real tcprules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, QGREY, run, tempDir } from '../helpers/util.js';
import { exampleHost } from './example-host.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[] };
const PAGES = pkg.man.map((p) => join(ROOT, p));
const QGREY1 = join(ROOT, 'man/qgrey.1');
const execFileP = promisify(execFile);

/** roff escapes used in our pages, back to text */
function unroff(s: string): string {
  return s
    .replace(/\\&/g, '')
    .replace(/\\e/g, '\\')
    .replace(/\\-/g, '-')
    .replace(/\\\(dq/g, '"')
    .replace(/\\\(aq/g, "'");
}

test('every page in package.json exists and mandoc -Tlint finds nothing (bar pages not installed here)', () => {
  assert.deepEqual(
    pkg.man.slice().sort(),
    ['man/qgrey-spp.8', 'man/qgrey.1', 'man/qgrey.5', 'man/qgreyd.8', 'man/qgreylist.8'],
  );
  for (const page of PAGES) {
    const strict = run('mandoc', ['-Tlint', '-W', 'warning', page]);
    assert.equal(strict.code, 0, `${page}: ${strict.stderr}`);
    // mandoc writes its lint messages to standard output (and some to standard error)
    const lint = run('mandoc', ['-Tlint', page]);
    const notes = (lint.stdout + lint.stderr)
      .split('\n')
      .filter((l) => l !== '' && !/outdated mandoc\.db/.test(l) && !/STYLE: referenced manual not found: Xr (qgrey [158]|qgreylist 8|qgreyd 8|qgrey-spp 8|qmail-smtpd 8|jgreylist 8)\b/.test(l));
    assert.deepEqual(notes, [], page);
  }
});

test('the pages are in mdoc order', () => {
  const order = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'DIAGNOSTICS', 'SEE ALSO', 'STANDARDS', 'HISTORY', 'AUTHORS', 'CAVEATS', 'BUGS'];
  for (const page of PAGES) {
    const secs = [...readFileSync(page, 'utf8').matchAll(/^\.Sh (.+)$/gm)].map((m) => m[1]!.replace(/"/g, ''));
    const idx = secs.map((s) => order.indexOf(s));
    assert.ok(!idx.includes(-1), `${page}: unknown section in ${secs.join(', ')}`);
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b), `${page}: ${secs.join(', ')}`);
  }
  const q1 = [...readFileSync(QGREY1, 'utf8').matchAll(/^\.Sh (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(q1, ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO', 'CAVEATS']);
});

/** Subcommands as `qgrey --help` lists them ('whitelist add', ...). */
async function helpOf(args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', COLUMNS: '200' };
  delete env.NODE_EXTRA_CA_CERTS;
  const { stdout } = await execFileP(process.execPath, [QGREY, ...args, '--help'], { env, maxBuffer: 1 << 20 });
  return stdout;
}

function commandsIn(help: string, prefix: string): string[] {
  const sec = help.split(/\n(?=\S)/).find((s) => s.startsWith('Commands:')) ?? '';
  return [...sec.matchAll(new RegExp(`^  qgrey ${prefix}([a-z][a-z0-9-]*)`, 'gm'))].map((m) => prefix + m[1]);
}

function longOptions(help: string): string[] {
  const sec = help.split(/\n(?=\S)/).find((s) => s.startsWith('Options:')) ?? '';
  return [...sec.matchAll(/^ +(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]!).filter((o) => o !== 'help' && o !== 'version').sort();
}

/** `.Ss NAME` sections of qgrey(1) and the long options their `.It` lines define. */
function manOptions(): Map<string, string[]> {
  const text = readFileSync(QGREY1, 'utf8');
  const desc = text.slice(text.indexOf('.Sh DESCRIPTION'), text.indexOf('.Sh ENVIRONMENT'));
  const out = new Map<string, string[]>();
  for (const part of desc.split(/^\.Ss /m).slice(1)) {
    const name = part.slice(0, part.indexOf('\n')).trim();
    if (name === 'Log sources') continue;
    const opts = [...part.matchAll(/^\.It .*$/gm)].flatMap((m) => [...m[0].matchAll(/\bFl -([a-z0-9][a-z0-9-]*)/g)].map((x) => x[1]!));
    out.set(name, [...new Set(opts)].sort());
  }
  return out;
}

test('--help and qgrey(1) cannot drift: the same subcommands, each with the same long options', async () => {
  const top = await helpOf([]);
  const cmds = commandsIn(top, '');
  assert.ok(cmds.length >= 10, `commands found: ${cmds.join(' ')}`);
  // one --help per command, in parallel; commands with subcommands need a second round
  const first = await Promise.all(cmds.map((c) => helpOf([c])));
  const fromHelp = new Map<string, string[]>();
  const subs: string[] = [];
  cmds.forEach((c, i) => {
    const s = commandsIn(first[i]!, `${c} `);
    if (s.length) subs.push(...s);
    else fromHelp.set(c, longOptions(first[i]!));
  });
  const second = await Promise.all(subs.map((c) => helpOf(c.split(' '))));
  subs.forEach((c, i) => fromHelp.set(c, longOptions(second[i]!)));
  const fromMan = manOptions();
  assert.deepEqual([...fromMan.keys()].sort(), [...fromHelp.keys()].sort(), 'one .Ss section per subcommand');
  for (const [c, opts] of fromHelp) assert.deepEqual(fromMan.get(c), opts, `qgrey ${c}: options in --help vs .It lines of qgrey(1)`);
  // and the SYNOPSIS names every top-level command
  const synopsis = readFileSync(QGREY1, 'utf8').split('.Sh DESCRIPTION')[0]!;
  for (const c of cmds) assert.match(synopsis, new RegExp(`^\\.Cm ${c}$`, 'm'), `SYNOPSIS lacks ${c}`);
});

interface Example {
  page: string;
  line: string;
  env: Record<string, string>;
}

interface Display {
  page: string;
  lines: string[];
}

function displays(): Display[] {
  const out: Display[] = [];
  for (const page of PAGES) {
    const text = readFileSync(page, 'utf8');
    const ex = text.slice(text.indexOf('.Sh EXAMPLES'));
    const body = ex.slice(0, ex.slice(1).search(/^\.Sh /m) + 1 || undefined);
    for (const m of body.matchAll(/^\.Bd -literal[^\n]*\n([\s\S]*?)^\.Ed$/gm)) out.push({ page, lines: m[1]!.split('\n').filter((l) => l !== '').map(unroff) });
  }
  return out;
}

const CRON = /^([0-9*,/-]+\s+){5}(.+)$/;

function commandLines(): Example[] {
  const out: Example[] = [];
  for (const d of displays()) {
    const env: Record<string, string> = {};
    for (const l of d.lines) {
      if (l.startsWith('$ ')) out.push({ page: d.page, line: l.slice(2), env: {} });
      else if (/^[A-Z_]+=\S*$/.test(l) && d.lines.some((x) => CRON.test(x))) env[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
      else {
        const m = CRON.exec(l);
        if (m && !l.startsWith('#')) out.push({ page: d.page, line: m[2]!, env: { ...env } });
      }
    }
  }
  return out;
}

test('every EXAMPLES command line of every man page runs, against temp copies of the fixtures', async () => {
  const cmds = commandLines();
  assert.ok(cmds.length >= 12, `found ${cmds.length} example command lines`);
  await using host = await exampleHost();
  const T = host.root;
  const ran: string[] = [];
  for (const ex of cmds) {
    const line = host.rewrite(ex.line);
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', line], { cwd: host.work, env: { ...host.env, ...ex.env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${ex.page}: ${ex.line}\nexit ${r.status} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    ran.push(ex.line);
  }
  // the examples did their work in the temp tree
  assert.ok(readFileSync(join(T, 'var/qmail/control/qgrey/whitelist'), 'utf8').includes('spf:example.org'));
  assert.ok(readFileSync(join(T, 'var/www/html/greylist.svg'), 'utf8').startsWith('<?xml'));
  assert.ok(readFileSync(join(T, 'etc/tcp.smtp'), 'utf8').startsWith('127.:allow,RELAYCLIENT=""\n'));
  assert.ok(ran.length === cmds.length);
});

test('EXAMPLES displays that are not command lines: run scripts pass sh -n, tcprules lines compile', () => {
  using t = tempDir('qgrey-man-');
  let scripts = 0;
  let rules = 0;
  for (const d of displays()) {
    if (d.lines[0]?.startsWith('#!/bin/sh')) {
      const r = spawnSync('sh', ['-n'], { input: d.lines.join('\n') + '\n', encoding: 'utf8' });
      assert.equal(r.status, 0, `${d.page}: ${r.stderr}`);
      scripts++;
    } else if (d.lines.every((l) => /^[^\s:#]*:(allow|deny)\b/.test(l))) {
      const r = spawnSync('tcprules', [join(t.path, `r${rules}.cdb`), join(t.path, `r${rules}.tmp`)], { input: d.lines.join('\n') + '\n', encoding: 'utf8' });
      assert.equal(r.status, 0, `${d.page}: tcprules: ${r.stderr}`);
      rules++;
    }
  }
  assert.ok(scripts >= 1 && rules >= 1, `scripts ${scripts}, rule sets ${rules}`);
});
