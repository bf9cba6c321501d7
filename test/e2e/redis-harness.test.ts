// The Redis harness itself: each kind of server starts, refuses what it should refuse, and
// leaves no process behind; a sentinel set fails over when its master is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crash, rawCommand, rawCommandBulk, startRedis, startSentinels } from './redis-harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('harness: a plain redis-server answers, and is gone after stop()', async () => {
  const r = await startRedis();
  assert.equal(await rawCommand(r.port, ['PING']), '+PONG');
  assert.match(r.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  await r.stop();
  assert.equal(alive(r.pid), false);
  assert.equal(await rawCommand(r.port, ['PING'], { ms: 200 }), null);
});

test('harness: requirepass refuses a client without the password; an ACL user logs in by name', async () => {
  await using r = await startRedis({ password: 'pw-1', user: { name: 'qgrey', password: 's3cret' } });
  assert.match((await rawCommand(r.port, ['PING']))!, /^-NOAUTH/);
  assert.match((await rawCommand(r.port, ['AUTH', 'qgrey', 'wrong']))!, /^-WRONGPASS/);
  assert.equal(await rawCommand(r.port, ['AUTH', 'qgrey', 's3cret']), '+OK');
  assert.equal(await rawCommand(r.port, ['AUTH', 'pw-1']), '+OK');
  assert.equal(r.url, `redis://qgrey:s3cret@127.0.0.1:${r.port}`);
});

test('harness: a TLS redis-server speaks TLS only, with a certificate from our throwaway CA', async () => {
  await using r = await startRedis({ tls: true });
  assert.equal(await rawCommand(r.port, ['PING'], { tls: r.tls }), '+PONG');
  // plain text on the TLS port gets no RESP answer
  assert.equal(await rawCommand(r.port, ['PING'], { ms: 300 }), null);
  assert.match(r.url, /^rediss:\/\/localhost:\d+$/);
});

test('harness: a sentinel set replaces a killed master with the replica, which has the data', async () => {
  const s = await startSentinels({ password: 'pw' });
  try {
    assert.equal(await s.masterPort(), s.master.port);
    assert.equal(await rawCommandBulk(s.master.port, ['AUTH', 'pw'], ['SET', 'before', 'kept']), 'OK');
    // the write reaches the replica before the master dies
    assert.equal(await rawCommandBulk(s.master.port, ['AUTH', 'pw'], ['WAIT', '1', '2000']), '1');
    await crash(s.master);
    let port: number | null = null;
    for (let i = 0; i < 300 && port !== s.replica.port; i++) {
      await new Promise((res) => setTimeout(res, 100));
      port = await s.masterPort();
    }
    assert.equal(port, s.replica.port, 'the sentinels promoted the replica');
    assert.equal(await rawCommandBulk(s.replica.port, ['AUTH', 'pw'], ['GET', 'before']), 'kept');
  } finally {
    await s.stop();
  }
  for (const p of [s.master.pid, s.replica.pid, ...s.sentinels.map((x) => x.pid)]) assert.equal(alive(p), false, `pid ${p} is gone`);
});
