// Measures the npm package tai64 against daemontools tai64nlocal (see README, Dependencies).
// Run: d=$(mktemp -d); cp doc/tai64-compare.cjs $d; cd $d; npm i tai64@1.0.0; node tai64-compare.cjs
const { TAI64 } = require('tai64');
const { execFileSync } = require('child_process');
const labels = [];
for (let i = 0; i < 2000; i++) { const t = 1500000000 + Math.floor(i * 123457.3); labels.push('@' + (0x4000000000000000n + 10n + BigInt(t)).toString(16) + (i * 4999 % 1000000000).toString(16).padStart(8, '0')); }
const ref = execFileSync('tai64nlocal', { input: labels.map(l => l + ' x').join('\n') + '\n', env: { TZ: 'UTC' } }).toString().trim().split('\n');
let off = new Map(), bad24 = 0;
labels.forEach((l, i) => {
  const want = Date.parse(ref[i].slice(0, 19).replace(' ', 'T') + 'Z') / 1000;
  const got = TAI64.fromHexString(l.slice(1, 17)).toUnix();
  off.set(got - want, (off.get(got - want) || 0) + 1);
  try { const g24 = TAI64.fromHexString(l.slice(1, 25)).toUnix(); if (g24 !== want) bad24++; } catch { bad24++; }
});
console.log('seconds offset vs tai64nlocal (offset -> count):', [...off]);
console.log('24-hex labels given whole: wrong or thrown:', bad24, 'of', labels.length);
let t = process.hrtime.bigint(); for (let k = 0; k < 50; k++) for (const l of labels) TAI64.fromHexString(l.slice(1, 17)).toUnix(); const pkg = Number(process.hrtime.bigint() - t) / 1e6;
t = process.hrtime.bigint(); for (let k = 0; k < 50; k++) for (const l of labels) { const hi = parseInt(l.slice(1, 9), 16) - 0x40000000, lo = parseInt(l.slice(9, 17), 16); hi * 4294967296 + lo - 10; } const own = Number(process.hrtime.bigint() - t) / 1e6;
console.log('100k conversions: tai64', pkg.toFixed(1), 'ms; plain parse', own.toFixed(1), 'ms');
