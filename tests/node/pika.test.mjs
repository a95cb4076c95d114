// pika (Python, from PyPI), unmodified, against `warren-mq serve`: the classic
// ack tutorial with a worker killed mid-task, publisher confirms, and the
// features in tests/python/features.py.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { root, startServer, tmpDir } from './server.mjs';

const script = (name) => path.join(root, 'tests', 'python', name);
// The project's Python environment with pika (npm test makes it), else python3 from PATH.
const venvPython = path.join(root, '.venv', 'bin', 'python3');
const PYTHON = fs.existsSync(venvPython) ? venvPython : 'python3';
let server;

before(async () => {
  server = await startServer({ dataDir: tmpDir() });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

/** Starts a python script; `waitFor(re)` resolves on matching output. */
function python(name, ...args) {
  const child = spawn(PYTHON, [script(name), String(server.amqpPort), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set();
  const onData = (d) => {
    out += d;
    for (const w of waiters) w();
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return {
    child,
    exited,
    output: () => out,
    waitFor(re, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: no ${re} in ${ms} ms; output:\n${out}`));
        }, ms);
        const check = () => {
          const m = out.match(re);
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

async function finish(name, ...args) {
  const p = python(name, ...args);
  const code = await p.exited;
  assert.equal(code, 0, `${name} failed:\n${p.output()}`);
  return p.output();
}

async function queueMessages(name) {
  const res = await server.api(`/api/queues/%2F/${name}`);
  assert.equal(res.status, 200);
  return (await res.json()).messages;
}

test('ack tutorial: a worker killed before basic_ack gives the message back, redelivered', async () => {
  await finish('new_task.py', 'First message.....', 'tasks');
  const worker = python('worker.py', '5', 'tasks');
  await worker.waitFor(/Received First message\.{5} redelivered=False/);
  worker.child.kill('SIGKILL'); // during its 5 s of work, before the ack
  await worker.exited;
  const second = python('worker.py', '0', 'tasks', '--once');
  await second.waitFor(/Received First message\.{5} redelivered=True/);
  await second.waitFor(/Done/);
  assert.equal(await second.exited, 0);
  assert.equal(await queueMessages('tasks'), 0);
});

test('ack tutorial with auto_ack=True: a killed worker loses the message', async () => {
  await finish('new_task.py', 'Fragile.....', 'auto-tasks');
  const worker = python('worker.py', '5', 'auto-tasks', '--auto-ack');
  await worker.waitFor(/Received Fragile\.{5} redelivered=False/);
  worker.child.kill('SIGKILL');
  await worker.exited;
  assert.equal(await queueMessages('auto-tasks'), 0);
});

test('confirm_delivery(): persistent publishes to a durable queue are confirmed; UnroutableError; NackError', async () => {
  const result = JSON.parse(await finish('confirms.py'));
  assert.deepEqual(result, { confirmed: 20, unroutable: true, returned: [312], nacked: true, count: 20 });
});

test('nack/reject with requeue, transactions, cancel notification, channel error codes', async () => {
  const result = JSON.parse(await finish('features.py'));
  assert.deepEqual(result, {
    nack_requeued: ['again', true],
    reject_dropped: true,
    tx: ['committed', true],
    cancelled: true,
    codes: { passive: 404, reserved: 403, unknown_tag: 406 },
  });
});

test('direct reply-to RPC, its 406 without a reply consumer, and the empty queue name', async () => {
  const result = JSON.parse(await finish('rpc.py'));
  assert.deepEqual(result, {
    replies: [
      ['fib 0', '0'],
      ['fib 1', '1'],
      ['fib 2', '2'],
    ],
    no_reply_consumer: [406, 'PRECONDITION_FAILED - fast reply consumer does not exist'],
    no_previous: [404, 'NOT_FOUND - no previously declared queue'],
    shortcut: 'shortcut',
  });
});
