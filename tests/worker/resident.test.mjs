// WARREN_HIBERNATION=off: sockets accepted in memory (server.accept() and
// event listeners) instead of through the Hibernation API. Real workerd
// (Miniflare) and amqp-client.js: the broker behaves the same and the
// socket's close still ends its connection. That confirmed messages outlive
// a kill either way is in restart.test.mjs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostConfig } from '../../js/worker/config.js';
import { start, take, tmpDir, until } from './runtime.mjs';

const RESIDENT = { WARREN_HIBERNATION: 'off' };

test('WARREN_HIBERNATION is "on" by default, "on" or "off" when set, and anything else is refused by name', () => {
  assert.equal(hostConfig({}).hibernation, true);
  assert.equal(hostConfig({ WARREN_HIBERNATION: 'on' }).hibernation, true);
  assert.equal(hostConfig({ WARREN_HIBERNATION: 'off' }).hibernation, false);
  assert.throws(() => hostConfig({ WARREN_HIBERNATION: '0' }), /WARREN_HIBERNATION must be "on" or "off" \(got 0\)/);
});

test('resident sockets: confirms, deliveries and acks; a socket gone before its acks hands its deliveries on, redelivered', async () => {
  const rt = await start({ persistDir: tmpDir(), vars: RESIDENT });
  try {
    const a = await rt.client();
    const cha = await a.channel();
    await cha.queueDeclare('work', { durable: true });
    await cha.confirmSelect();
    const bodies = Array.from({ length: 40 }, (_, i) => `job ${i}`);
    const tags = await Promise.all(bodies.map((b) => cha.basicPublish('', 'work', b, { deliveryMode: 2 })));
    assert.deepEqual(
      tags,
      bodies.map((_, i) => i + 1),
    );
    await cha.prefetch(10);
    const got = await take(cha, 'work', 10);
    assert.deepEqual(
      got.map((m) => m.bodyToString()),
      bodies.slice(0, 10),
    );
    for (const m of got.slice(0, 4)) await m.ack();
    const s = await rt.debug();
    assert.equal(s.sockets, 1);
    assert.equal(s.hibernatableSockets, 0, 'the socket is not the Hibernation API’s');

    // No AMQP close: the transport goes away, and its close event ends the
    // connection. Its 10 unacked deliveries (4 more came with the 4 acks) go to the next.
    a.socket.close();
    await until(async () => (await rt.debug()).sockets === 0, { what: 'the connection to end' });
    const b = await rt.client();
    const chb = await b.channel();
    const again = await take(chb, 'work', 36, { noAck: true });
    assert.deepEqual(
      again.map((m) => m.bodyToString()),
      bodies.slice(4),
    );
    assert.deepEqual(
      again.map((m) => m.redelivered),
      bodies.slice(4).map((_, i) => i < 10),
    );
    await b.close();
  } finally {
    await rt.stop();
  }
});
