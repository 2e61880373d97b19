/**
 * The test infrastructure itself: a private Redis (restart on the same port), a three-master Redis
 * Cluster, a private PostgreSQL 15 (restart, stop and start), and the TCP round-robin balancer.
 * Each test reports its start-up time as a diagnostic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import pg from 'pg';
import { freePort, redisCommand, startRedis, startRedisCluster, type RespValue } from './helpers/redis.js';
import { startPostgres } from './helpers/pg-instance.js';
import { startBalancer } from './helpers/balancer.js';

/** PING over a raw TCP socket, RESP by hand: `*1\r\n$4\r\nPING\r\n` → `+PONG\r\n`. */
function rawPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.endsWith('\r\n')) {
        s.destroy();
        resolve(got);
      }
    });
    s.write('*1\r\n$4\r\nPING\r\n');
  });
}

async function timed<T>(t: { diagnostic(msg: string): void }, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms`);
  return value;
}

test('a private Redis answers PING, and restarts empty on the same port', async (t) => {
  const redis = await timed(t, 'redis start', () => startRedis());
  t.after(() => redis.stop());
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  assert.equal(await rawPing(redis.port), '+PONG\r\n');
  assert.equal(await redisCommand(redis.port, ['SET', 'k', 'v']), 'OK');

  await timed(t, 'redis restart', () => redis.restart());
  assert.equal(await rawPing(redis.port), '+PONG\r\n');
  assert.equal(await redisCommand(redis.port, ['GET', 'k']), null, 'nothing is saved across a restart');

  // kill -9: the port refuses, then a restart brings it back.
  await redis.kill();
  await assert.rejects(rawPing(redis.port), /ECONNREFUSED/);
  await redis.restart();
  assert.equal(await rawPing(redis.port), '+PONG\r\n');
});

test('a Redis Cluster of three masters covers every slot', async (t) => {
  const cluster = await timed(t, 'redis cluster start', () => startRedisCluster());
  t.after(() => cluster.stop());
  assert.equal(cluster.seeds.length, 3);
  assert.equal(cluster.url, cluster.seeds.map((s) => `redis://127.0.0.1:${s.port}`).join(','));

  for (const seed of cluster.seeds) {
    const info = await redisCommand(seed.port, ['CLUSTER', 'INFO']);
    assert.match(String(info), /cluster_state:ok/);
  }
  // CLUSTER SLOTS: [[start, end, [host, port, id], ...replicas], ...]
  const slots = (await redisCommand(cluster.seeds[0]!.port, ['CLUSTER', 'SLOTS'])) as RespValue[][];
  const ranges = slots.map((r) => [r[0] as number, r[1] as number] as const).sort((a, b) => a[0] - b[0]);
  let nextSlot = 0;
  for (const [from, to] of ranges) {
    assert.equal(from, nextSlot, 'no gap between slot ranges');
    nextSlot = to + 1;
  }
  assert.equal(nextSlot, 16384, 'every slot is served');
  const masters = new Set(slots.map((r) => (r[2] as RespValue[])[1] as number));
  assert.deepEqual([...masters].sort(), cluster.seeds.map((s) => s.port).sort());
});

test('a private PostgreSQL answers queries, and survives restart, stop and start on the same port', async (t) => {
  const pgi = await timed(t, 'postgres start', () => startPostgres());
  t.after(() => pgi.stop());
  assert.notEqual(pgi.port, 5432);
  assert.equal(pgi.url, `postgres://postgres@127.0.0.1:${pgi.port}/postgres`);
  const query = async (sql: string): Promise<unknown[]> => {
    const c = new pg.Client({ connectionString: pgi.url, connectionTimeoutMillis: 2000 });
    await c.connect();
    try {
      return (await c.query<Record<string, unknown>>(sql)).rows;
    } finally {
      await c.end();
    }
  };

  assert.deepEqual(await query('SELECT 1 AS one'), [{ one: 1 }]);
  await query('CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');

  await timed(t, 'postgres restart', () => pgi.restart());
  assert.deepEqual(await query('SELECT 1 AS one'), [{ one: 1 }]);
  assert.deepEqual(await query('SELECT v FROM kept'), [{ v: 7 }], 'data survives a restart');

  await pgi.stopOnly();
  await assert.rejects(query('SELECT 1'), /ECONNREFUSED/);
  await pgi.start();
  assert.deepEqual(await query('SELECT v FROM kept'), [{ v: 7 }]);
});

/** A TCP server that greets each connection with its name, then echoes. */
async function echoServer(name: string): Promise<{ server: Server; backend: string }> {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, backend: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** Connects through the balancer: which backend greeted us, and the echo of `msg`. */
function through(port: number, msg = 'ping'): Promise<{ name: string; echo: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      const lines = got.split('\n');
      if (lines.length >= 3) {
        s.destroy();
        resolve({ name: lines[0]!, echo: lines[1]! });
      }
    });
    s.write(`${msg}\n`);
  });
}

test('the balancer alternates between backends and skips a dead one', async (t) => {
  const a = await echoServer('A');
  const b = await echoServer('B');
  const dead = `127.0.0.1:${await freePort()}`;
  const lb = await startBalancer([a.backend, b.backend]);
  t.after(async () => {
    await lb.close();
    await Promise.all([a, b].map((s) => new Promise((r) => s.server.close(r))));
  });
  assert.equal(lb.url, `ws://127.0.0.1:${lb.port}`);

  const names = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await through(lb.port, `m${i}`);
      assert.equal(r.echo, `m${i}`, 'bytes flow both ways');
      out.push(r.name);
    }
    return out;
  };
  assert.deepEqual(await names(4), ['A', 'B', 'A', 'B']);

  lb.setBackends([a.backend, dead, b.backend]);
  assert.deepEqual(await names(4), ['A', 'B', 'A', 'B'], 'the refusing backend is skipped');

  lb.remove(a.backend);
  assert.deepEqual(await names(2), ['B', 'B']);
  assert.deepEqual(lb.backends(), [dead, b.backend]);
  assert.deepEqual(lb.counts(), { [a.backend]: 4, [b.backend]: 6 });

  // Nothing alive: the client is closed at once.
  lb.setBackends([dead]);
  await assert.rejects(through(lb.port), /closed/);
});
