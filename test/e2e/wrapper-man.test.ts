// man/qgreylist.8: clean under mandoc -Tlint, and it names every variable the wrapper reads.
import { envVarsRead } from '../helpers/env-vars.js';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run } from '../helpers/util.js';

const PAGE = join(ROOT, 'man/qgreylist.8');

it('qgreylist.8 passes mandoc -Tlint (style notes only for pages not installed here)', () => {
  const r = run('mandoc', ['-Tlint', PAGE]);
  const notes = r.stderr
    .split('\n')
    .filter((l) => l !== '' && !/outdated mandoc\.db/.test(l) && !/STYLE: referenced manual not found: Xr (qgrey [158]|qgreyd 8|qmail-smtpd 8)/.test(l));
  assert.deepEqual(notes, []);
  assert.equal(run('mandoc', ['-Tlint', '-W', 'warning', PAGE]).code, 0);
});

it('documents every environment variable the wrapper and its trampoline read', () => {
  const page = readFileSync(PAGE, 'utf8');
  const documented = new Set([...page.matchAll(/^\.It Ev ([A-Z0-9_]+)(?: , ([A-Z0-9_]+))?/gm)].flatMap((m) => [m[1]!, m[2]].filter((x) => x !== undefined)));
  const trampoline = readFileSync(join(ROOT, 'bin/qgreylist'), 'utf8');
  const config = envVarsRead('src/wrapper/config.ts');
  assert.ok(config.readers.includes('holdtime') && config.readers.includes('listDir'), `the wrapper's readers: ${config.readers.join(', ')}`);
  const read = new Set([
    ...config.vars,
    ...[...trampoline.matchAll(/\$\{?(QGREY_[A-Z0-9_]+|JGREYLIST[A-Z0-9_]*|TCP[A-Z0-9_]+)/g)].map((m) => m[1]!),
  ]);
  for (const v of ['JGREYLIST_HOLDTIME', 'JGREYLIST_BY_IP', 'QGREY_LISTDIR', 'QGREY_STORE', 'JGREYLIST_LOG']) assert.ok(read.has(v), v);
  const missing = [...read].filter((v) => !documented.has(v)).sort();
  assert.deepEqual(missing, []);
});
