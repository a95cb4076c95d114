// The page served by `warren-mq serve`: its server view follows the broker's
// event stream while a real AMQP client (amqp-client.js over TCP) uses it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { counter, launch, root, screenshot, waitCounter } from './harness.mjs';

let serve;
let urls;
let browser;

/** Starts `warren-mq serve` on free ports; resolves with its page and AMQP URLs. */
function startServer() {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bin', 'warren-mq.js'),
      'serve',
      '--port',
      '0',
      '--http-port',
      '0',
      '--memory',
      '--host',
      '127.0.0.1',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`warren-mq serve did not start:\n${out}`)), 20000);
    const read = (chunk) => {
      out += chunk;
      const page = out.match(/page\s+(http:\/\/\S+)/);
      const amqp = out.match(/AMQP\s+(amqp:\/\/\S+)/);
      if (page && amqp) {
        clearTimeout(timer);
        resolve({ child, page: page[1], amqp: amqp[1] });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`warren-mq serve exited with ${code}:\n${out}`)));
  });
}

before(async () => {
  ({ child: serve, ...urls } = await startServer());
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve.once('exit', r));
  }
});

/** Opens the server view and logs in through its form. */
async function openLoggedIn(user = 'guest', password = 'guest') {
  const page = await browser.context.newPage();
  await page.goto(`${urls.page}#server`);
  // The view waits for the login before it is ready (the cookie keeps a
  // login for the next page of the same browser).
  await page.waitForFunction(
    () => document.querySelector('form.console-login') || document.documentElement.dataset.ready === 'true',
  );
  const form = page.locator('form.console-login');
  if (await form.count()) {
    await form.locator('input[name=username]').fill(user);
    await form.locator('input[name=password]').fill(password);
    await form.locator('button[type=submit]').click();
  }
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  return page;
}

test('server view: messages from an amqp-client.js client show up live', async () => {
  const page = await openLoggedIn();
  await page
    .waitForFunction(() => /Following/.test(document.querySelector('#lesson-controls').textContent))
    .catch(async (e) => {
      const status = await page.locator('#lesson-controls').innerText();
      throw new Error(`${e.message}\nstatus: ${status}\nerrors: ${browser.errors.join('\n')}`);
    });

  const amqp = new AMQPClient(urls.amqp.replace('amqp://', 'amqp://guest:guest@'));
  const conn = await amqp.connect();
  try {
    const ch = await conn.channel();
    await ch.queueDeclare('hello', { durable: true });
    await ch.basicPublish('', 'hello', 'hi from amqp-client.js');
    await waitCounter(page, 'published', 1);
    await page.locator('[data-node="q:hello"]').waitFor({ timeout: 10000 });
    assert.match(await page.locator('#timeline').innerText(), /published to \(default\) with routing key "hello"/);

    const got = new Promise((resolve) => {
      ch.basicConsume('hello', { noAck: false }, async (msg) => {
        await msg.ack();
        resolve(msg.bodyToString());
      });
    });
    assert.equal(await got, 'hi from amqp-client.js');
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'delivered'), 1);
    await page.waitForTimeout(400);
    await screenshot(page, 'server-view-1280');
  } finally {
    await conn.close();
  }
  await page.close();
  assert.deepEqual(browser.errors, [], 'console errors or exceptions');
});

test('console: tables, publish, get, purge, close a connection, redrive a dead-letter queue at a rate', async () => {
  const amqp = new AMQPClient(urls.amqp.replace('amqp://', 'amqp://guest:guest@'));
  const conn = await amqp.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('orders.dlq');
  await ch.queueDeclare('orders', {}, { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'orders.dlq' });
  for (let i = 0; i < 5; i++) await ch.basicPublish('', 'orders', `order ${i}`);
  // A consumer that rejects them all: they are dead-lettered.
  for (let i = 0; i < 5; i++) await (await ch.basicGet('orders', { noAck: false })).reject(false);

  const page = await openLoggedIn();
  const row = (q) => page.locator(`#console tr[data-queue="${q}"]`);
  const ready = (q) => row(q).locator('[data-col=ready]');
  await row('orders.dlq').waitFor({ timeout: 10000 });
  await page.waitForFunction(
    () => document.querySelector('#console tr[data-queue="orders.dlq"] [data-col=ready]')?.textContent === '5',
  );
  assert.match(await page.locator('#console').innerText(), /guest \(administrator\)/);
  // The client's channel, named as RabbitMQ names it: its connection's name and number.
  assert.match(await page.locator('#console').innerText(), /127\.0\.0\.1:\d+ \(1\)/);

  // Get shows the messages with their x-death, and requeues them.
  await row('orders.dlq').locator('[data-act=get]').click();
  await page.locator('.console-message').first().waitFor();
  assert.match(await page.locator('.console-panel').innerText(), /order 0[\s\S]*x-death/);

  // Redrive back to the queue they died in, at 20 a second.
  await row('orders.dlq').locator('[data-act=redrive]').click();
  await page.locator('form.console-form input[name=rate]').fill('20');
  const started = Date.now();
  await page.locator('form.console-form button[type=submit]').click();
  await page.waitForFunction(
    () => document.querySelector('#console tr[data-redrive]')?.dataset.state === 'done',
    null,
    { timeout: 10000 },
  );
  assert.ok(Date.now() - started >= 150, 'paced, not all at once');
  await page.waitForFunction(
    () => document.querySelector('#console tr[data-queue="orders"] [data-col=ready]')?.textContent === '5',
  );
  assert.equal(await ready('orders.dlq').innerText(), '0');

  // Publish through the default exchange, then purge.
  await page.locator('#console tr[data-exchange="amq.default"] [data-act=publish]').click();
  await page.locator('form.console-form input[name=routing_key]').fill('orders');
  await page.locator('form.console-form textarea[name=payload]').fill('from the console');
  await page.locator('form.console-form button[type=submit]').click();
  await page.waitForFunction(() => /Published: routed/.test(document.querySelector('#console').textContent));
  await page.waitForFunction(
    () => document.querySelector('#console tr[data-queue="orders"] [data-col=ready]')?.textContent === '6',
  );
  await row('orders').locator('[data-act=purge]').click();
  await page.waitForFunction(
    () => document.querySelector('#console tr[data-queue="orders"] [data-col=ready]')?.textContent === '0',
  );
  await screenshot(page, 'console-1280');

  // Close the client's connection from the console: it hears 320.
  const closed = new Promise((resolve) => (amqp.onerror = resolve));
  await page.locator('#console tr[data-connection] [data-act=close]').first().click();
  assert.match(String((await closed).message), /CONNECTION_FORCED/);
  await row('orders').locator('[data-act=delete]').click();
  await row('orders').waitFor({ state: 'detached' });
  await page.close();
  assert.deepEqual(browser.errors, [], 'console errors or exceptions');
});

test('the page gets the engine from serve compressed: brotli or gzip, as Chromium accepts', async () => {
  const page = await browser.context.newPage();
  const engine = page.waitForResponse((r) => new URL(r.url()).pathname === '/pkg/warren_bg.wasm');
  await page.goto(urls.page);
  const res = await engine;
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-encoding'] ?? 'none', /^(br|gzip)$/);
  // Decoded, it is the engine the page runs.
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  assert.equal((await res.body()).length, fs.statSync(path.join(root, 'pkg', 'warren_bg.wasm')).size);
  await page.close();
  assert.deepEqual(browser.errors, [], 'console errors or exceptions');
});
