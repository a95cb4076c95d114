// The page served by `warren-mq serve`: its server view follows the broker's
// event stream while a real AMQP client (amqp-client.js over TCP) uses it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

test('server view: messages from an amqp-client.js client show up live', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${urls.page}#server`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
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
