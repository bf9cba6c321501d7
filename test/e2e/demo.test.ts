// The README's `npm run demo` (fixtures/demo.sh, on the built tree): it exits 0, shows each
// job, and its "what cron sees" part holds the README's cron jobs with -q printing nothing,
// then one failing job printing one line with exit 100.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, run } from '../helpers/util.js';

test('npm run demo: exit 0, every job shown, cron quiet when all is well and one line when not', () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.QGREY_LISTDIR;
  delete env.JGREYLIST_DIR;
  delete env.QGREY_STORE;
  const r = run('sh', [join(FIXTURES, 'demo.sh')], { env, timeout: 120_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.stderr, '');
  const steps = r.stdout.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2).split(' ').slice(0, 3).join(' '));
  const want = [
    'qgrey rebuild --days', 'qgrey list', 'qgrey whitelist load', 'qgrey check 192.0.2.9', 'qgrey check 198.18.1.77',
    'qgrey logs --kind', 'qgrey evict --dry-run', 'qgrey clean --dry-run', 'qgrey stats --top', 'qgrey blacklist add', 'qgrey tcprules',
  ];
  let at = -1;
  for (const w of want) {
    const k = steps.indexOf(w, at + 1);
    assert.ok(k > at, `no step '${w}' after step ${at} in ${JSON.stringify(steps)}`);
    at = k;
  }
  assert.match(r.stdout, /^2026-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} qgreylist\[\d+\]: 203\.0\.113\.45: GREY first time$/m, 'logs shows readable times');
  assert.match(r.stdout, /^203\.0\.113\.66:allow,JGREYLIST="Go away %"$/m, 'tcprules shows the blacklist rule');
  // the compiled client asked qgreyd: its decision is in qgreyd's log, with no fallback
  assert.match(r.stdout, /^\$ printf '\.\.\.' \| TCPREMOTEIP=198\.18\.1\.79 QGREY_SERVER=127\.0\.0\.1:PORT dist\/client\/qgreylist qmail-smtpd$/m);
  assert.match(r.stdout, /^(?:\S+ )?qgreylist\[\d+\]: 198\.18\.1\.79: GREY too soon$/m);
  assert.doesNotMatch(r.stdout, /fallback/);
  // what cron sees
  const cron = r.stdout.slice(r.stdout.indexOf('# what cron sees'));
  const jobs = [...cron.matchAll(/^\$ (qgrey [^\n]*)\n((?:(?!\$ )[^\n]*\n)*?)  \(exit (\d+)(, nothing printed)?\)$/gm)].map((m) => ({ job: m[1]!, out: m[2]!, rc: m[3], quiet: m[4] !== undefined }));
  assert.deepEqual(jobs.map((j) => j.job.split(' ')[1]), ['evict', 'rebuild', 'clean', 'addlist', 'tcprules', 'rebuild']);
  for (const j of jobs.slice(0, -1)) assert.deepEqual([j.job, j.rc, j.quiet, j.out], [j.job, '0', true, ''], j.job);
  const last = jobs[jobs.length - 1]!;
  assert.equal(last.rc, '100');
  assert.match(last.out, /^qgrey: fatal: unable to read log '\$DEMO\/no-such-log': no such file or directory\n$/);
});
