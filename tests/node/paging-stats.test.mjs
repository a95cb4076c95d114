// Paging in the management API: a queue's paged and in-memory counts and its
// pages (GET /api/queues), and the broker's page I/O (GET /api/overview), as
// a backlog goes out to page files and a consumer reads it back.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startServer, tmpDir } from './server.mjs';

const N = 20_000;
const body = (i) => `${String(i).padStart(6, '0')}:${'y'.repeat(60)}`;

test('the management API shows paged messages, pages, and pages written and read', async () => {
  const server = await startServer({ dataDir: tmpDir(), args: ['--page-budget', '64KiB'] });
  const c = new AMQPClient(server.url);
  try {
    await c.connect();
    const ch = await c.channel();
    await ch.confirmSelect();
    await ch.queueDeclare('backlog', { durable: true });
    const api = async (path) => (await server.api(path)).json();
    const empty = await api('/api/overview');
    assert.deepEqual(empty.paging, {
      pages: 0,
      pages_written: 0,
      page_bytes_written: 0,
      pages_read: 0,
      page_bytes_read: 0,
    });

    for (let i = 0; i < N; i += 1000) {
      const batch = [];
      for (let j = i; j < i + 1000; j++) batch.push(ch.basicPublish('', 'backlog', body(j), { deliveryMode: 2 }));
      await Promise.all(batch);
    }
    const q = await api('/api/queues/%2F/backlog');
    assert.equal(q.messages_ready, N);
    assert.ok(q.messages_paged_out > N / 2, `paged: ${q.messages_paged_out}`);
    assert.equal(q.messages_ready_ram + q.messages_paged_out, N);
    assert.ok(q.pages > 1, `pages: ${q.pages}`);
    // Memory holds what the budget allows, not the backlog.
    assert.ok(q.memory > 0 && q.memory <= 64 * 1024, `memory: ${q.memory}`);
    const paged = await api('/api/overview');
    assert.equal(paged.queue_totals.messages_paged_out, q.messages_paged_out);
    assert.equal(paged.paging.pages, q.pages);
    // Confirmed persistent messages: every page the queue names is written.
    assert.ok(paged.paging.pages_written >= q.pages, JSON.stringify(paged.paging));
    assert.ok(paged.paging.page_bytes_written > q.messages_paged_out * 60, JSON.stringify(paged.paging));
    assert.equal(paged.paging.pages_read, 0);

    await ch.prefetch(500);
    let got = 0;
    await new Promise((resolve) => {
      ch.basicConsume('backlog', { noAck: false }, (m) => {
        assert.equal(m.bodyToString(), body(got));
        if (++got % 250 === 0) m.ack(true);
        if (got === N) resolve();
      });
    });
    const drained = await api('/api/queues/%2F/backlog');
    assert.equal(drained.messages_paged_out, 0);
    assert.equal(drained.pages, 0);
    const after = await api('/api/overview');
    // Every page came back once, with the bytes written.
    assert.equal(after.paging.pages_read, after.paging.pages_written);
    assert.equal(after.paging.page_bytes_read, after.paging.page_bytes_written);
    assert.equal(after.paging.pages, 0);
  } finally {
    await c.close().catch(() => {});
    await server.stop();
  }
});
