// The management API's rates (`*_details.rate`, as RabbitMQ's API shapes
// them) from a real `warren-mq serve` sampling every 200 ms: above zero while
// a client publishes, consumes and acks at a steady pace, back to zero once
// it idles. Bounds are generous: this checks the plumbing, not speed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { sleep, startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer({ args: ['--stats-interval', '200'] });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const get = async (apiPath) => (await server.api(apiPath)).json();

/** Runs `step` every 10 ms for `ms`, polling `probe` every 100 ms; returns the probes. */
async function paced(ms, step, probe) {
  const seen = [];
  const end = Date.now() + ms;
  let next = Date.now();
  while (Date.now() < end) {
    await step();
    if (Date.now() >= next) {
      seen.push(await probe());
      next += 100;
    }
    await sleep(10);
  }
  return seen;
}

test('publish, deliver and ack rates follow a client; depth rates follow the queue', async () => {
  const conn = await new AMQPClient(server.url).connect();
  const ch = await conn.channel();
  await ch.queueDeclare('paced');
  const queue = () => get('/api/queues/%2F/paced');

  const filling = await paced(1500, () => ch.basicPublish('', 'paced', 'x'), queue);
  const busy = filling.slice(-5); // past the first samples
  for (const q of busy) {
    const rate = q.message_stats.publish_details.rate;
    assert.ok(rate > 5 && rate < 1000, `publish rate ${rate}`);
    assert.ok(q.messages_details.rate > 0 && q.messages_ready_details.rate > 0, JSON.stringify(q));
    assert.equal(q.messages_unacknowledged_details.rate, 0);
  }
  const overview = await get('/api/overview');
  assert.ok(overview.message_stats.publish_details.rate > 0, JSON.stringify(overview.message_stats));
  assert.ok(overview.queue_totals.messages_details.rate > 0);

  // Draining: deliveries and acks, the depth falling.
  const draining = await paced(
    1000,
    async () => {
      for (let i = 0; i < 3; i++) {
        const m = await ch.basicGet('paced', { noAck: false });
        await m?.ack();
      }
    },
    queue,
  );
  const q = draining.at(-2);
  assert.ok(q.message_stats.deliver_get_details.rate > 5, JSON.stringify(q.message_stats));
  assert.ok(q.message_stats.ack_details.rate > 5, JSON.stringify(q.message_stats));
  assert.equal(q.message_stats.redeliver_details.rate, 0);
  assert.ok(q.messages_details.rate < 0, `depth rate ${q.messages_details.rate} while draining`);

  // Idle: every rate returns to zero within a few samples.
  await ch.queuePurge('paced');
  await sleep(700);
  const idle = await queue();
  for (const k of ['publish_details', 'deliver_get_details', 'ack_details', 'redeliver_details'])
    assert.equal(idle.message_stats[k].rate, 0, k);
  for (const k of ['messages_details', 'messages_ready_details', 'messages_unacknowledged_details'])
    assert.equal(idle[k].rate, 0, k);
  assert.equal((await get('/api/overview')).message_stats.publish_details.rate, 0);
  await conn.close();
});
