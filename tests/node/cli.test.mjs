// The command line: --help, option errors, WARREN_* variables, what it prints,
// and graceful shutdown on SIGTERM/SIGINT (clients see 320, exit code 0).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { OPTIONS } from '../../js/node/options.js';
import { bin, root, startServer } from './server.mjs';

const run = (args, env = {}) =>
  spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20000,
  });

test('--help lists every option with its default and its environment variable', () => {
  const r = run(['serve', '--help']);
  assert.equal(r.status, 0);
  for (const o of OPTIONS) {
    assert.match(r.stdout, new RegExp(`--${o.flag}\\b`), o.flag);
    assert.ok(r.stdout.includes(`default: ${o.def}`), `default of --${o.flag}`);
    assert.ok(r.stdout.includes(o.env), o.env);
  }
  for (const expected of [
    '--host LIST',
    'default: 127.0.0.1,::1',
    'default: 127.0.0.1',
    'default: 5672',
    'default: 15670',
    'default: ./warren-data',
    'default: guest:guest',
  ]) {
    assert.ok(r.stdout.includes(expected), expected);
  }
  assert.equal(run(['--help']).stdout, r.stdout);
});

test('bad options exit with 2 and name the option', () => {
  let r = run(['serve', '--port', 'eighty']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port: not an integer/);
  r = run(['serve', '--no-such-flag']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no-such-flag/);
  r = run(['serve'], { WARREN_MAX_MESSAGE_SIZE: 'huge' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /WARREN_MAX_MESSAGE_SIZE: not a size/);
  r = run(['launch']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command: launch/);
});

test('a port in use is a clear error and exit code 1', async () => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const r = run(['serve', '--memory', '--port', String(blocker.address().port), '--http-port', '0']);
  blocker.close();
  assert.equal(r.status, 1);
  assert.match(r.stdout, /cannot start: .*EADDRINUSE.*choose other ports with --port and --http-port/);
});

test('it prints where it listens, and WARREN_* variables configure it (flags win)', async () => {
  const server = await startServer({
    args: ['--vhosts', '/,dev'],
    env: { WARREN_USERS: 'alice:secret,bob:pw', WARREN_VHOSTS: 'ignored', WARREN_PORT: '1' },
  });
  try {
    const out = server.log();
    assert.match(out, /AMQP +amqp:\/\/127\.0\.0\.1:\d+/);
    assert.match(out, /WebSocket +ws:\/\/127\.0\.0\.1:\d+\/ws\/amqp/);
    assert.match(out, /page +http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /users +alice, bob; vhosts \/, dev/);
    const guest = new AMQPClient(`amqp://guest:guest@127.0.0.1:${server.amqpPort}`);
    await assert.rejects(guest.connect(), /403/);
    const alice = new AMQPClient(`amqp://alice:secret@127.0.0.1:${server.amqpPort}/dev`);
    await alice.connect();
    await (await alice.channel()).queueDeclare('in-dev');
    await alice.close();
    const res = await server.api('/api/queues/dev/in-dev', { user: 'alice:secret' });
    assert.equal((await res.json()).vhost, 'dev');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal}: connected clients get 320 CONNECTION_FORCED and the process exits 0`, async () => {
    const server = await startServer();
    const clients = [];
    const closes = [];
    for (let i = 0; i < 3; i++) {
      const c = new AMQPClient(server.url);
      closes.push(new Promise((resolve) => (c.onerror = resolve)));
      await c.connect();
      await c.channel();
      clients.push(c);
    }
    assert.equal(await server.stop(signal), 0);
    for (const err of await Promise.all(closes)) assert.match(err.message, /CONNECTION_FORCED.*\(320\)/);
    assert.match(server.log(), new RegExp(`${signal}: shutting down`));
    assert.match(server.log(), /stopped/);
  });
}
