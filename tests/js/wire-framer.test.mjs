// www/wire/framer.js: a real AMQP byte stream cut into the records the
// engine's wire tap gives. The reference is the tap itself: the records of a
// scenario, laid end to end as a connection carries them (the client's side
// after the protocol header, heartbeats between), must come back the same
// however the bytes are split.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, ManualClock } from '../../js/entry-node.js';
import { Framer } from '../../www/wire/framer.js';

const settle = () => new Promise((r) => setTimeout(r, 0));
const PROTOCOL_HEADER = [65, 77, 81, 80, 0, 0, 9, 1];
const HEARTBEAT = [8, 0, 0, 0, 0, 0, 0, 0xce];

/** The tap's records of a scenario with content (two bodies, one of them empty), per direction. */
async function tappedRecords() {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  const records = { in: [], out: [] };
  broker.tapWire((conn, channel, toClient, bytes) =>
    records[toClient ? 'out' : 'in'].push({ channel, bytes: bytes.slice() }),
  );
  const conn = await broker.connect({ name: 'app' });
  await conn.channel();
  const ch = await conn.channel();
  await ch.queueDeclare('q', { durable: false });
  await ch.basicConsume('q', { noAck: false, tag: 'c1' }, (m) => ch.basicAck(m.deliveryTag));
  await ch.basicPublish('', 'q', 'hello '.repeat(40), { messageId: 'm-1', headers: { a: 1 } });
  await ch.basicPublish('', 'q', '');
  await settle();
  await settle();
  await broker.close();
  return records;
}

/** A stream as a connection carries it: records end to end, a heartbeat after the first. */
function stream(records, client) {
  const parts = [...(client ? PROTOCOL_HEADER : []), ...records[0].bytes, ...HEARTBEAT];
  for (const r of records.slice(1)) parts.push(...r.bytes);
  return new Uint8Array(parts);
}

function cut(chunks, { client, keep = () => true }) {
  const out = [];
  const framer = new Framer({ client, onRecord: (channel, bytes) => out.push({ channel, bytes }) });
  chunks.forEach((c, i) => framer.push(c, keep(i)));
  return out;
}

test('records come back whole and in order, split at every offset, one byte at a time, or all at once', async () => {
  const records = await tappedRecords();
  for (const [dir, client] of [
    ['in', true],
    ['out', false],
  ]) {
    const want = records[dir];
    assert.ok(want.some((r) => r.channel === 2) && want.length >= 5, `${dir}: a scenario worth cutting`);
    const bytes = stream(want, client);
    assert.deepEqual(cut([bytes], { client }), want, `${dir}: one chunk`);
    for (let at = 0; at <= bytes.length; at++) {
      const got = cut([bytes.subarray(0, at), bytes.subarray(at)], { client });
      assert.deepEqual(got, want, `${dir}: split at ${at}`);
    }
    const single = Array.from(bytes, (b) => new Uint8Array([b]));
    assert.deepEqual(cut(single, { client }), want, `${dir}: byte by byte`);
  }
  // The client's publishes carry their header and body frames: method, header, body; the empty one no body.
  const publishes = records.in.filter(
    (r) => r.bytes[0] === 1 && r.bytes[7] === 0 && r.bytes[8] === 60 && r.bytes[10] === 40,
  );
  assert.deepEqual(
    publishes.map((r) => r.bytes.length > 300),
    [true, false],
  );
});

test('bytes pushed while nothing is kept give no records, and cutting goes on in step after', async () => {
  const records = await tappedRecords();
  const want = records.out;
  const bytes = stream(want, false);
  // Every split point: the first part not kept (the lane off), the rest kept.
  for (let at = 0; at <= bytes.length; at++) {
    const got = cut([bytes.subarray(0, at), bytes.subarray(at)], { client: false, keep: (i) => i === 1 });
    // Exactly the records whose 7-byte frame header was not whole before the split.
    let start = 0;
    const after = [];
    for (const [i, r] of want.entries()) {
      if (start + 7 > at) after.push(r);
      start += r.bytes.length + (i === 0 ? HEARTBEAT.length : 0);
    }
    assert.deepEqual(got, after, `kept from ${at}`);
  }
});

test('a frame without its end octet stops the cutting: no half frame becomes a record', () => {
  const good = [1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xce]; // channel.open on channel 1
  const bad = [...good.slice(0, -1), 0x00];
  const got = cut([new Uint8Array([...good, ...bad, ...good])], { client: false });
  assert.equal(got.length, 1);
  assert.equal(got[0].channel, 1);
});
