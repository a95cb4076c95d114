// The platform's memory limit: the broker blocks publishers, then closes the
// one that goes on, with an AMQP error, long before the isolate runs out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sleep, start, tmpDir } from './runtime.mjs';

let rt;
before(async () => {
  // The smallest limit allowed, so a few MiB of messages reach it.
  rt = await start({ persistDir: tmpDir(), vars: { WARREN_MAX_QUEUED_BYTES: String(1024 * 1024) } });
});
after(() => rt?.stop());

test('past the queued-bytes limit publishers are blocked, and one that goes on is closed with 320', async () => {
  const bystander = await rt.client();
  const publisher = await rt.client();
  const blocked = [];
  // A client that hears connection.blocked and publishes on regardless
  // (amqp-client.js would refuse to publish while blocked).
  publisher.onblocked = (reason) => {
    blocked.push(reason);
    delete publisher.blocked;
  };
  let closedWith = null;
  publisher.onerror = (err) => (closedWith = err.message);
  const ch = await publisher.channel();
  await ch.queueDeclare('hoard', { durable: false });

  const body = new Uint8Array(32 * 1024);
  const end = Date.now() + 15000;
  let sent = 0;
  while (closedWith === null && Date.now() < end) {
    try {
      await ch.basicPublish('', 'hoard', body);
      sent++;
    } catch {
      break;
    }
    await sleep(20);
  }
  await sleep(200);
  assert.deepEqual(blocked.slice(0, 1), ['low on memory']);
  assert.match(String(closedWith), /320|CONNECTION_FORCED|low on memory/);
  assert.ok(sent * body.length < 8 * 1024 * 1024, `sent ${sent} messages before the close`);

  // The connection that sent nothing is still there.
  const other = await bystander.channel();
  const { messageCount } = await other.queueDeclare('hoard', { passive: true });
  assert.ok(messageCount > 0);
  await bystander.close();
});
