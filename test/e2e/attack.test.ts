// The attacks of issue 10, run as root with an unprivileged attacker (nobody, through setpriv)
// planting and swapping in the tree during real rebuild, clean and evict runs: nothing in the
// victim directory may change (content, owner, mode, times), and the tree work is done as the
// tree's owner.
//
// CONTAINED: code under test that followed a swapped symlink as root would delete or take
// whatever it points at. So every trial runs in its own mount namespace (unshare -m, propagation
// private) in which every mount is remounted read-only (checked before the trial starts) and a
// fresh tmpfs holds the tree, the logs and the victim; the attacker's symlinks name the victim
// only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { QGREY, ROOT, tempDir, qgrey } from '../helpers/util.js';
import { accepted, greetdelay, label } from './rebuild-gen.js';

const NOW = Math.floor(Date.now() / 1000);
const D = 86400;
const TRIALS = 8;
const AGENT = join(ROOT, 'test/e2e/attack-agent.mjs');

/** The containment, then the trial's own set-up, job and checks; prints markers the test reads. */
const TRIAL = String.raw`
set -u
T=$1; AGENT=$2; NODE=$3; MODE=$4
# every mount of this namespace read-only (the topmost at each path: those below are hidden)
awk '{print $2}' /proc/self/mounts | sort -ru | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null; done
rw=$(awk '{o[$2]=$4} END {for (m in o) if (o[m] !~ /(^|,)ro(,|$)/) print m}' /proc/self/mounts)
if [ -n "$rw" ]; then echo "CONTAIN-FAIL still writable: $rw"; exit 97; fi
if touch /qgrey-attack-probe 2>/dev/null; then echo "CONTAIN-FAIL / is writable"; exit 97; fi
# the only writable place: a tmpfs for the tree, the logs and the victim (noatime: reading the
# victim for its checksum changes nothing; a time written by the job still shows)
mount -t tmpfs -o mode=0755,size=256m,noatime tmpfs "$T" || { echo "CONTAIN-FAIL no tmpfs"; exit 97; }
mkdir "$T/tree" "$T/victim" "$T/logs" "$T/run"
snap() { (cd "$T/victim" && find . -printf '%p %y %U:%G %m %s %T@ %A@\n' | sort && find . -type f -exec md5sum {} + | sort); }
setup
chown -R nobody:nogroup "$T/tree" "$T/run"
post
echo BEFORE; snap; echo END
setpriv --reuid=nobody --regid=nogroup --clear-groups "$NODE" - "$MODE" "$T" < "$AGENT" 2> "$T/agent.err" &
agent=$!
i=0; while [ ! -e "$T/run/planted" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
[ -e "$T/run/planted" ] || { echo "CONTAIN-FAIL the attacker never started:"; cat "$T/agent.err"; exit 97; }
job < /dev/null > "$T/out" 2> "$T/err"; code=$?
touch "$T/run/done"; wait $agent
echo CODE $code
echo SWAPS $(cat "$T/run/swaps" 2>/dev/null || echo none)
echo STDERR; cat "$T/err"; echo END
echo AFTER; snap; echo END
echo NOT-OWNER; find "$T/tree" ! -user nobody -printf '%P\n' | sort; echo END
`;

interface Trial {
  code: number;
  stderr: string;
  before: string;
  after: string;
  notOwner: string;
  /** links the attacker planted during the job */
  swaps: number;
}

function section(out: string, name: string): string {
  const m = new RegExp(`^${name}\\n([\\s\\S]*?)^END$`, 'm').exec(out);
  assert.ok(m, `no ${name} in the trial's output:\n${out}`);
  return m[1]!;
}

/** One contained trial: `setup` and `job` are shell function bodies (T is the tmpfs). */
function trial(mode: string, setup: string, job: string, post = ':'): Trial {
  const T = mkdtempSync('/tmp/qgrey-attack.');
  try {
    const script = `setup() {\n${setup}\n}\npost() {\n${post}\n}\njob() {\n${job}\n}\n${TRIAL}`;
    // the script on stdin: a command line this long is refused (E2BIG)
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-s', T, AGENT, process.execPath, mode], { input: script, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.error, undefined);
    assert.doesNotMatch(r.stdout, /CONTAIN-FAIL/, r.stdout);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const code = /^CODE ([0-9]+)$/m.exec(r.stdout);
    assert.ok(code, r.stdout);
    const swaps = /^SWAPS ([0-9]+)$/m.exec(r.stdout);
    assert.ok(swaps, `the attacker did not finish: ${r.stdout}`);
    return { swaps: Number(swaps[1]), code: Number(code[1]), stderr: section(r.stdout, 'STDERR'), before: section(r.stdout, 'BEFORE'), after: section(r.stdout, 'AFTER'), notOwner: section(r.stdout, 'NOT-OWNER') };
  } finally {
    rmdirSync(T);
  }
}

const qg = `"${process.execPath}" "${QGREY}"`;

/** shell lines making files with the same times (mtime first): two touch processes in all */
const files = (ps: readonly string[], m: number, a: number) => {
  const q = ps.map((p) => `"${p}"`).join(' ');
  return `for f in ${q}; do : > "$f"; done\ntouch -m -d @${m} ${q}\ntouch -a -d @${a} ${q}`;
};
const file = (p: string, m: number, a: number) => files([p], m, a);

function check(t: Trial, what: string): void {
  assert.equal(t.after, t.before, `${what}: the victim changed\n${t.stderr}`);
  assert.equal(t.notOwner, '', `${what}: something in the tree is not the owner's (root worked there)`);
  assert.doesNotMatch(t.stderr, /^\s+at /m, `${what}: a stack trace`);
}

test('attacks run as root only (CI does)', () => {
  assert.equal(process.getuid?.(), 0, 'the attack tests need root: unshare, mount, setpriv');
});

test('1. rebuild: a staging leftover whose subdirectory becomes a link to the victim while it is removed', () => {
  const victim = files(Array.from({ length: 400 }, (_, i) => `$T/victim/f${i}`), NOW - 9 * D, NOW - 9 * D);
  let swaps = 0;
  for (let i = 0; i < TRIALS; i++) {
    const t = trial(
      'leftovers',
      `${victim}\nchmod 0600 "$T"/victim/*\nprintf '%s\\n' '${label(NOW - D)} ${accepted('203.0.113.45')}' > "$T/logs/current"`,
      `${qg} rebuild --dir "$T/tree" "$T/logs/current"`,
    );
    check(t, `trial ${i}`);
    swaps += t.swaps;
  }
  assert.ok(swaps > 0, 'the attacker planted no link while the job ran');
});

function rebuildSetup(): string {
  const lines: string[] = [];
  const logs: string[] = [];
  const made: string[] = [];
  for (let c = 0; c < 8; c++) {
    const d = String(c).padStart(3, '0');
    lines.push(`mkdir -p "$T/tree/203/${d}" "$T/victim/${d}"`);
    for (let e = 0; e < 60; e++) {
      const n = String(e).padStart(3, '0');
      // in the logs (updated in place) or stale (pruned): both kinds, in every directory
      made.push(`$T/tree/203/${d}/${n}`, `$T/victim/${d}/${n}`);
      if (e % 2 === 0) logs.push(`${label(NOW - D)} ${accepted(`203.${c}.${e}.9`)}`);
    }
  }
  lines.push(files(made, NOW - 20 * D, NOW - 20 * D + 5));
  lines.push(`chmod 0600 "$T"/victim/*/*`);
  lines.push(`cat > "$T/logs/current" <<'EOF'\n${logs.join('\n')}\nEOF`);
  return lines.join('\n');
}

test('2, 3. rebuild: a top-level directory swapped for a link to the victim during the swap and the prune', () => {
  const setup = rebuildSetup();
  let swaps = 0;
  for (let i = 0; i < TRIALS; i++) {
    const t = trial('swap-top', setup, `${qg} rebuild --dir "$T/tree" --keep-recent 1h "$T/logs/current"`);
    check(t, `trial ${i}`);
    swaps += t.swaps;
  }
  assert.ok(swaps > 0, 'the attacker planted no link while the job ran');
});

test('4. clean: a leaf directory swapped for a link to a victim directory of old files, walk and removal', () => {
  const made: string[] = [];
  for (let e = 0; e < 250; e++) made.push(`$T/tree/203/000/${String(e).padStart(3, '0')}`, `$T/victim/000/${String(e).padStart(3, '0')}`);
  const lines: string[] = ['mkdir -p "$T/tree/203/000" "$T/victim/000"', files(made, NOW - 90 * D, NOW - 60 * D)];
  lines.push('chmod 0600 "$T"/victim/000/*');
  let swaps = 0;
  for (let i = 0; i < TRIALS; i++) {
    const t = trial('swap-leaf', lines.join('\n'), `${qg} clean --no-lists --dir "$T/tree"`);
    check(t, `trial ${i}`);
    swaps += t.swaps;
  }
  assert.ok(swaps > 0, 'the attacker planted no link while the job ran');
});

test('4. evict: the directory of evicted entries swapped for a link to the victim', () => {
  const made: string[] = [];
  const logs: string[] = [];
  for (let e = 0; e < 250; e++) {
    const n = String(e).padStart(3, '0');
    made.push(`$T/tree/203/000/${n}`, `$T/victim/000/${n}`);
    logs.push(`${label(NOW - 600)} ${greetdelay(`203.0.${e}.9`)}`);
  }
  const lines: string[] = ['mkdir -p "$T/tree/203/000" "$T/victim/000"', files(made, NOW - 2 * D, NOW - D)];
  lines.push('chmod 0600 "$T"/victim/000/*', `cat > "$T/logs/current" <<'EOF'\n${logs.join('\n')}\nEOF`);
  let swaps = 0;
  for (let i = 0; i < TRIALS; i++) {
    const t = trial('swap-mid', lines.join('\n'), `${qg} evict --dir "$T/tree" --min-events 1 "$T/logs/current"`);
    check(t, `trial ${i}`);
    swaps += t.swaps;
  }
  assert.ok(swaps > 0, 'the attacker planted no link while the job ran');
});

test('6. a hard link to a victim file planted as an entry is reported, never re-timed, chowned or removed', () => {
  const setup = [
    'mkdir -p "$T/tree/203/000" "$T/tree/204/000"',
    file('$T/victim/secret', NOW - 90 * D, NOW - 90 * D),
    'chmod 0600 "$T/victim/secret"',
    // what the qmail user could do where fs.protected_hardlinks=0 (planted here by root)
    'ln "$T/victim/secret" "$T/tree/203/000/113"',
    'ln "$T/victim/secret" "$T/tree/204/000/113"',
    `printf '%s\\n' '${label(NOW - D)} ${accepted('203.0.113.45')}' > "$T/logs/current"`,
  ].join('\n');
  // the trial's chown -R of the tree gives the linked inode to nobody: back to root after it
  const t = trial('none', setup, `${qg} rebuild --dir "$T/tree" "$T/logs/current" && ${qg} clean --no-lists --max-age 1d --dir "$T/tree"`, 'chown root:root "$T/victim/secret"');
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.after, t.before, 'the victim changed');
  assert.equal(t.notOwner, '203/000/113\n204/000/113\n', 'only the links are not the owner\'s');
  assert.match(t.stderr, /203\/000\/113: has 3 hard links, expected 1; left alone/);
  assert.match(t.stderr, /204\/000\/113: has 3 hard links, expected 1; left alone/);
});

test('5. a planted lock (FIFO, directory, symlink to a device, symlink to a FIFO) ends in 111 and one line within the wait', () => {
  using d = tempDir();
  spawnSync('chown', ['nobody:nogroup', d.path]);
  using outside = tempDir();
  spawnSync('mkfifo', [`${outside.path}/fifo`]);
  const plants: [string, string[]][] = [
    ['a FIFO', ['mkfifo', `${d.path}/.qgrey.lock`]],
    ['a directory', ['mkdir', `${d.path}/.qgrey.lock`]],
    ['a symbolic link', ['ln', '-s', '/dev/zero', `${d.path}/.qgrey.lock`]],
    ['a symbolic link', ['ln', '-s', `${outside.path}/fifo`, `${d.path}/.qgrey.lock`]],
  ];
  for (const [what, cmd] of plants) {
    spawnSync('rm', ['-rf', `${d.path}/.qgrey.lock`]);
    assert.equal(spawnSync(cmd[0]!, cmd.slice(1)).status, 0);
    for (const job of [['clean', '--no-lists'], ['evict', '/dev/null'], ['rebuild', '/dev/null']]) {
      const t0 = Date.now();
      const r = qgrey([...job.slice(0, 1), '--dir', d.path, ...job.slice(1)], { env: { QGREY_LOCK_WAIT: '0.5' }, timeout: 30_000 });
      const took = Date.now() - t0;
      assert.equal(r.code, 111, `${job[0]} with ${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^qgrey: fatal: unable to lock greylist directory .*: .*\\.qgrey\\.lock is ${what}, not a lock file; remove it\\n$`));
      assert.ok(took >= 500, `${job[0]} waited ${took} ms`);
    }
  }
});

test('the tree work runs as the owner of the tree: the lock holder, the files it makes', async () => {
  using root = tempDir();
  using logs = tempDir();
  spawnSync('chown', ['nobody:nogroup', root.path]);
  const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const fifo = `${logs.path}/current`;
  spawnSync('mkfifo', [fifo]);
  const { spawn } = await import('node:child_process');
  const writer = spawn('sh', ['-c', 'exec cat > "$1"', 'sh', fifo], { stdio: ['pipe', 'ignore', 'inherit'] });
  const child = spawn(process.execPath, [QGREY, 'rebuild', '-q', '--dir', root.path, fifo], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    let text = '';
    for (let i = 0; i < 2000 && text === ''; i++) {
      try {
        text = readFileSync(`${root.path}/.qgrey.lock`, 'latin1');
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const pid = Number(text.split(' ')[0]);
    assert.ok(pid > 0 && pid !== child.pid, `the lock is held by the tree process, not the command: ${text}`);
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    assert.match(status, new RegExp(`^Uid:\\s+${nobody}\\s+${nobody}\\s+${nobody}\\s+${nobody}$`, 'm'));
    assert.match(status, /^Groups:\s+65534\s*$/m);
    writer.stdin!.end(`${label(NOW - D)} ${accepted('203.0.113.45')}\n`);
    assert.equal(await exited, 0);
    const st = spawnSync('stat', ['-c', '%u', `${root.path}/203/000/113`, `${root.path}/203`], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.deepEqual(st, [String(nobody), String(nobody)]);
  } finally {
    writer.kill('SIGKILL');
    child.kill('SIGKILL');
  }
});

test('root refuses a tree root that is a symlink or is owned by root, unless --owner root', () => {
  using d = tempDir();
  using logs = tempDir();
  const r = qgrey(['clean', '--no-lists', '--dir', d.path]);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /^qgrey: fatal: greylist directory .* is owned by root: .*--owner root.*\n$/);
  assert.equal(qgrey(['clean', '--no-lists', '-q', '--owner', 'root', '--dir', d.path]).code, 0);
  spawnSync('ln', ['-s', d.path, `${logs.path}/link`]);
  const l = qgrey(['clean', '--no-lists', '--owner', 'root', '--dir', `${logs.path}/link`]);
  assert.equal(l.code, 100);
  assert.match(l.stderr, /is a symbolic link/);
});
