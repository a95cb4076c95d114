// Starts `warren-mq serve` as a child process on ports it picks, for the tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { tmpDir as makeTmpDir } from '../tmp-dirs.mjs';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = path.join(root, 'bin', 'warren-mq.js');

export const tmpDir = (prefix = 'warren-test-') => makeTmpDir(prefix);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the server with `args` (after `serve --port 0 --http-port 0`); `dataDir`
 * or memory-only; `detached` gives it its own process group; `command` is the
 * CLI script (this repository's bin/warren-mq.js by default). Resolves once it prints its URLs, with the ports, the output
 * so far (`log()`), `waitFor(re)` and `stop(signal)` which resolves with the
 * exit code.
 */
export async function startServer({
  args = [],
  dataDir,
  env = {},
  timeoutMs = 20000,
  detached = false,
  command = bin,
  cwd = root,
} = {}) {
  const store = dataDir ? ['--data-dir', dataDir] : ['--memory'];
  const child = spawn(process.execPath, [command, 'serve', '--port', '0', '--http-port', '0', ...store, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached, // its own process group (the benchmark reads the group's CPU time)
  });
  let out = '';
  const waiters = new Set();
  const onText = (chunk) => {
    out += chunk;
    for (const w of waiters) w();
  };
  child.stdout.setEncoding('utf8').on('data', onText);
  child.stderr.setEncoding('utf8').on('data', onText);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));

  /** Resolves with the match once the output matches `re`. */
  function waitFor(re, ms = timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = out.match(re);
        if (!m) return;
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${re} in ${ms} ms; output:\n${out}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      exited.then(() =>
        setImmediate(() => {
          if (waiters.has(check)) {
            done();
            reject(new Error(`server exited before ${re}; output:\n${out}`));
          }
        }),
      );
      check();
    });
  }

  const [, amqpPort] = await waitFor(/AMQP +amqp:\/\/[^\s]+:(\d+)/);
  const [, httpPort] = await waitFor(/page +https?:\/\/[^\s]+:(\d+)\//);
  return {
    child,
    amqpPort: Number(amqpPort),
    httpPort: Number(httpPort),
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    http: `http://127.0.0.1:${httpPort}`,
    ws: `ws://127.0.0.1:${httpPort}/ws/amqp`,
    log: () => out,
    /**
     * A management API call as `user` (guest by default): resolves with the
     * fetch Response. `body` is sent as JSON.
     */
    api(apiPath, { method = 'GET', body, user = 'guest:guest', headers = {} } = {}) {
      const auth = user ? { authorization: `Basic ${Buffer.from(user).toString('base64')}` } : {};
      return fetch(`http://127.0.0.1:${httpPort}${apiPath}`, {
        method,
        headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    waitFor,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * `warren-mq serve`, or with WARREN_TEST_AMQP_URL set the broker that names
 * (RabbitMQ, to compare a raw-frame test by hand): its AMQP port only.
 */
export async function serverOrReference() {
  const other = process.env.WARREN_TEST_AMQP_URL;
  return other ? { amqpPort: Number(new URL(other).port), stop: async () => 0 } : startServer();
}

/**
 * For a test file's WebSocket clients: `warren-mq serve` started before its
 * tests (`served.server`) and its clean exit checked after them, with `ws` as
 * the global WebSocket meanwhile (Node 20 has none; amqp-client.js uses
 * whichever is global).
 */
export function serveWithWebSocket(options) {
  const served = { server: null };
  const original = globalThis.WebSocket;
  before(async () => {
    served.server = await startServer(options);
    globalThis.WebSocket = WebSocket;
  });
  after(async () => {
    globalThis.WebSocket = original;
    assert.equal(await served.server.stop(), 0);
  });
  return served;
}
