// examples/cloudflare as a user runs it: `wrangler dev` (its wrangler.toml,
// build command, bundling, CompiledWasm rule, assets, migrations) under local
// workerd.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { root, take, tmpDir } from './runtime.mjs';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';

const QUIET = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true', // also skips the update check
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  NO_COLOR: '1',
};

/** Starts `wrangler dev`; resolves with { url, stop() } once it is ready. */
function wranglerDev(persistDir, ms = 60000) {
  const child = spawn(
    path.join(root, 'node_modules/.bin/wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', '0', '--persist-to', persistDir, '--show-interactive-dev-session=false'],
    {
      cwd: path.join(root, 'examples/cloudflare'),
      env: { ...process.env, ...QUIET },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  };
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`wrangler dev not ready after ${ms} ms:\n${out}`));
    }, ms);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/Ready on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop, output: () => out });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then((code) => reject(new Error(`wrangler dev exited with ${code}:\n${out}`)));
  });
}

test('the example project runs under wrangler dev: page and AMQP over /ws/amqp', { timeout: 120000 }, async () => {
  const dev = await wranglerDev(tmpDir());
  try {
    const page = await fetch(dev.url);
    assert.equal(page.status, 200);
    // [build] laid out the engine beside the page.
    const wasm = await fetch(`${dev.url}/pkg/warren_bg.wasm`);
    assert.equal(wasm.status, 200);
    await wasm.arrayBuffer();
    const c = new AMQPWebSocketClient({
      url: `${dev.url.replace('http', 'ws')}/ws/amqp`,
      vhost: '/',
      username: 'guest',
      password: 'guest',
    });
    await c.connect();
    const ch = await c.channel();
    await ch.confirmSelect();
    await ch.queueDeclare('hello', { durable: true });
    await ch.basicPublish('', 'hello', 'from wrangler dev', { deliveryMode: 2 });
    const [m] = await take(ch, 'hello', 1);
    assert.equal(m.bodyToString(), 'from wrangler dev');
    await m.ack();
    await c.close();
  } finally {
    await dev.stop();
  }
});
