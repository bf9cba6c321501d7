// What `npm pack` ships, installed as an admin would: the tarball into a temporary prefix with
// the system's Node and npm (npm scripts put the node devDependency first on PATH: skip it),
// then every command run from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, tempDir, type RunResult } from '../helpers/util.js';

/** Run with exactly `env`. */
function run(cmd: string, args: string[], opts: { env: Record<string, string>; cwd?: string; input?: string }): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: 'pipe', ...opts });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The first `node` on PATH that is not in a node_modules directory, else /usr/bin/node. */
function systemNode(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin']) {
    if (dir === '' || dir.includes('/node_modules')) continue;
    try {
      accessSync(join(dir, 'node'), constants.X_OK);
      return join(dir, 'node');
    } catch {
      /* next */
    }
  }
  throw new Error('no system node: not on PATH outside node_modules, not /usr/bin/node');
}

/** Subcommand names listed in a --help screen (`  qgrey NAME ...` under Commands:). */
function subcommands(help: string, prefix: string): string[] {
  const names: string[] = [];
  const re = new RegExp(`^  ${prefix.replace(/ /g, ' ')} ([a-z][a-z0-9-]*)`, 'gm');
  for (const m of help.matchAll(re)) names.push(m[1]!);
  return names;
}

test('npm pack: the tarball installs with the system Node and every command runs from it', () => {
  using t = tempDir();
  const node = systemNode();
  const PATH = [dirname(node), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  // the admin's environment (the registry's proxy and CA included), less what `npm test` adds
  const env: Record<string, string> = { NO_COLOR: '1', npm_config_update_notifier: 'false' };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(?:npm_|NODE_OPTIONS$|INIT_CWD$|FORCE_COLOR$)/i.test(k)) env[k] = v;
  env.PATH = PATH;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', t.path], { cwd: ROOT, env });
  assert.equal(pack.code, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  const shipped = info.files.map((f) => f.path);
  for (const f of ['bin/qgrey', 'bin/qgreylist', 'bin/qgreyd', 'dist/src/server/qgreyd.js', 'man/qgreyd.8', 'dist/src/cli.js', 'dist/cli/qgrey.mjs', 'dist/cli/tree-child.mjs', 'dist/src/wrapper/qgreylist.cjs', 'dist/src/wrapper/main.js', 'bin/qgrey-spp', 'dist/src/spp/qgrey-spp.cjs', 'man/qgrey-spp.8', 'man/qgrey.1', 'man/qgrey.5', 'man/qgreylist.8', 'README.md', 'fixtures/logs/live_pipeline_current.log']) {
    assert.ok(shipped.includes(f), `${f} is not in the tarball`);
  }
  for (const f of ['src/client/qgreylist.c', 'scripts/build-client.sh']) assert.ok(shipped.includes(f), `${f} (the compiled client, built where it is installed) is not in the tarball`);
  for (const f of shipped) {
    if (f === 'src/client/qgreylist.c' || f === 'scripts/build-client.sh') continue;
    assert.doesNotMatch(f, /^(?:src|test|bench|scripts|dist\/test|dist\/bench|dist\/client)\//, `${f} should not ship`);
  }

  const prefix = join(t.path, 'prefix');
  const inst = run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(t.path, info.filename)], { env });
  assert.equal(inst.code, 0, inst.stderr);
  const bin = join(prefix, 'bin');
  for (const m of ['man1/qgrey.1', 'man5/qgrey.5', 'man8/qgreylist.8', 'man8/qgreyd.8', 'man8/qgrey-spp.8']) assert.ok(existsSync(join(prefix, 'share/man', m)), `man page ${m} not installed`);

  const qgrey = (args: string[]) => run(join(bin, 'qgrey'), args, { env });
  const v = qgrey(['--version']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, `${version}\n`);

  const top = qgrey(['--help']);
  assert.equal(top.code, 0, top.stderr);
  const commands = subcommands(top.stdout, 'qgrey');
  for (const c of ['rebuild', 'clean', 'evict', 'list', 'check', 'stats', 'logs', 'whitelist', 'blacklist', 'addlist', 'tcprules']) assert.ok(commands.includes(c), `qgrey --help lists no ${c}: ${top.stdout}`);
  const helped: string[] = [];
  for (const c of commands) {
    helped.push(c);
    const h = qgrey([c, '--help']);
    assert.equal(h.code, 0, `qgrey ${c} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`qgrey ${c}`));
    for (const s of subcommands(h.stdout, `qgrey ${c}`)) {
      helped.push(`${c} ${s}`);
      const hs = qgrey([c, s, '--help']);
      assert.equal(hs.code, 0, `qgrey ${c} ${s} --help: ${hs.stderr}`);
      assert.match(hs.stdout, new RegExp(`qgrey ${c} ${s}`));
    }
  }

  for (const c of ['whitelist add', 'whitelist spf', 'blacklist add']) assert.ok(helped.includes(c), `no ${c} --help run: ${helped.join(', ')}`);

  // the wrapper, as tcpserver runs it: whitelisted by JGREYLIST, then a first-time client
  const tree = join(t.path, 'tree');
  mkdirSync(tree, { mode: 0o700 });
  const white = run(join(bin, 'qgreylist'), ['/bin/echo', 'next program'], { env: { ...env, JGREYLIST: '', TCPREMOTEIP: '192.0.2.7' } });
  assert.equal(white.code, 0, white.stderr);
  assert.equal(white.stdout, 'next program\n');
  assert.match(white.stderr, /^qgreylist\[[0-9]+\]: 192\.0\.2\.7: OK whitelisted\n$/);
  const lists = { JGREYLIST_DIR: tree, QGREY_LISTDIR: join(t.path, 'lists') };
  const first = run(join(bin, 'qgreylist'), ['/bin/echo', 'next program'], { env: { ...env, ...lists, TCPREMOTEIP: '192.0.2.7' }, input: '' });
  assert.match(first.stderr, /^qgreylist\[[0-9]+\]: 192\.0\.2\.7: GREY first time\n$/);
  assert.doesNotMatch(first.stdout, /next program/);
  assert.ok(existsSync(join(tree, '192/000/002')), 'the first-time entry is written');
  const known = run(join(bin, 'qgrey'), ['check', '192.0.2.7'], { env: { ...env, ...lists } });
  assert.equal(known.code, 0, known.stderr);
  assert.match(known.stdout, /GREY too soon/);
  // the compiled client, built where the package is installed as the README says, linked as
  // the run file's word: without qgreyd it hands the connection to bin/qgreylist beside it
  const pkg = join(prefix, 'lib/node_modules/qgrey');
  const cc = run('sh', [join(pkg, 'scripts/build-client.sh')], { env });
  assert.equal(cc.code, 0, cc.stderr);
  const word = join(t.path, 'qgreylist');
  symlinkSync(join(pkg, 'dist/client/qgreylist'), word);
  const c = run(word, ['/bin/echo', 'next program'], { env: { ...env, ...lists, TCPREMOTEIP: '192.0.2.7', QGREY_SECRET: join(t.path, 'no-secret') }, input: '' });
  assert.match(c.stderr, /^qgreylist\[[0-9]+\]: 192\.0\.2\.7: GREY too soon\n$/);
  // the decision server is installed too, and runs on this Node
  const qd = run(join(bin, 'qgreyd'), ['--help'], { env });
  assert.equal(qd.code, 0, qd.stderr);
  assert.match(qd.stdout, /^usage: qgreyd\n/);
  // the RCPT plugin, as qmail-spp runs it: a new triplet is deferred
  const rcpt = join(t.path, 'rcpt');
  mkdirSync(rcpt, { mode: 0o700 });
  const spp = run(join(bin, 'qgrey-spp'), [], {
    env: { ...env, QGREY_SECRET: '', QGREY_RCPT_DIR: rcpt, QGREY_LISTDIR: join(t.path, 'lists'), GLCONFIGFILE: join(t.path, 'none'), GREYLISTING: '', TCPREMOTEIP: '192.0.2.7', SMTPMAILFROM: 'a@b.example', SMTPRCPTTO: 'c@d.example' },
  });
  assert.equal(spp.code, 0, spp.stderr);
  assert.equal(spp.stdout, 'E451 greylisted, please try again later (#4.7.1)\n');
  assert.match(spp.stderr, /^qgrey-spp\[[0-9]+\]: 192\.0\.2\.7: RCPT GREY new <a@b\.example> -> <c@d\.example>\n$/);
});
