// Measures the two maintained Redis clients against a local redis-server (README, Dependencies):
// import time, connect + first command, sequential round trip (SET NX + GET), peak RSS.
// Run: d=$(mktemp -d); cp doc/redis-client-compare.mjs $d; cd $d; npm i @redis/client@6.3.1 ioredis@6.0.0
//      redis-server --port 36379 --save '' & ; env -u NODE_EXTRA_CA_CERTS node redis-client-compare.mjs 36379
import { execFileSync } from 'node:child_process';
const port = Number(process.argv[2] ?? 6379), n = 5000, rounds = 11;
const body = {
  ioredis: `const { Redis } = await import('ioredis'); const t1 = process.hrtime.bigint();
    const r = new Redis({ port: ${port}, host: '127.0.0.1', lazyConnect: true }); await r.connect();
    const set = (k, v) => r.set(k, v, 'NX'), get = (k) => r.get(k), quit = () => r.quit();`,
  redis: `const { createClient } = await import('@redis/client'); const t1 = process.hrtime.bigint();
    const r = createClient({ socket: { port: ${port}, host: '127.0.0.1' } }); r.on('error', () => {}); await r.connect();
    const set = (k, v) => r.set(k, v, { NX: true }), get = (k) => r.get(k), quit = () => r.quit();`,
};
const script = (c) => `const t0 = process.hrtime.bigint(); ${body[c]}
  await set('k', '1'); await get('k'); const t2 = process.hrtime.bigint();
  for (let i = 0; i < ${n}; i++) { await set('k' + i, String(i)); await get('k' + i); }
  const t3 = process.hrtime.bigint(); await quit();
  console.log(JSON.stringify({ imp: Number(t1 - t0) / 1e6, first: Number(t2 - t1) / 1e6, rt: Number(t3 - t2) / 1e3 / (2 * ${n}), rss: process.resourceUsage().maxRSS / 1024 }));`;
const res = { ioredis: [], redis: [] };
for (let i = 0; i < rounds; i++) for (const c of Object.keys(res)) res[c].push(JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script(c)], { encoding: 'utf8' })));
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [c, r] of Object.entries(res))
  console.log(`${c}: import ${med(r.map((x) => x.imp)).toFixed(0)} ms, connect+first ${med(r.map((x) => x.first)).toFixed(1)} ms, round trip ${med(r.map((x) => x.rt)).toFixed(1)} us, peak RSS ${med(r.map((x) => x.rss)).toFixed(0)} MB (medians of ${rounds})`);
