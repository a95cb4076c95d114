// What outlives a killed runtime: every confirmed persistent message.
// Hibernation, where nothing at all is lost, is hibernation.test.mjs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counts, start, takeBodies, tmpDir } from './runtime.mjs';

// Sockets accepted either way: through the Hibernation API (the default) or
// in memory (WARREN_HIBERNATION=off). The restarted object is the default.
for (const [how, vars] of [
  ['', {}],
  [' (sockets accepted in memory before the kill)', { WARREN_HIBERNATION: 'off' }],
]) {
  test(`every confirmed persistent message is there after workerd is killed and started again${how}`, async () => {
    const dir = tmpDir();
    const rt = await start({ persistDir: dir, vars });
    const bodies = Array.from({ length: 500 }, (_, i) => `persistent ${i}`);
    try {
      const c = await rt.client();
      const ch = await c.channel();
      await ch.queueDeclare('orders', { durable: true });
      await ch.confirmSelect();
      // Confirms come back only once the batch holding the message is on disk.
      await Promise.all(bodies.map((b) => ch.basicPublish('', 'orders', b, { deliveryMode: 2 })));
    } finally {
      // No close, no flush: the process dies right after the last confirm.
      await rt.kill();
    }

    const rt2 = await start({ persistDir: dir });
    try {
      const stats = await rt2.debug();
      assert.ok(stats.recoveredBytes > 0);
      assert.equal(counts(stats, 'orders').ready, bodies.length);
      const c = await rt2.client();
      assert.equal((await rt2.debug()).hibernatableSockets, 1, 'the restarted default takes hibernatable sockets');
      const ch = await c.channel();
      assert.deepEqual(await takeBodies(ch, 'orders', bodies.length, { noAck: true }), bodies);
      await c.close();
    } finally {
      await rt2.stop();
    }
  });
}
