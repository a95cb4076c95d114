// warren-mq/lite in Node: its engine is the shipped one without the exports
// scripts/build.mjs leaves out, a client sees exactly what it sees on the full
// engine, and what is left out fails with an Error naming it, losing nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../js/entry-lite-node.js';
import { LITE_LEAVES_OUT } from '../../scripts/build.mjs';

const file = (rel) => fileURLToPath(new URL(rel, import.meta.url));
const exportsOf = (rel) =>
  WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(file(rel)))).map((e) => e.name);

test('the lite engine exports all the full one does but the methods the build leaves out', () => {
  const full = exportsOf('../../pkg/warren_bg.wasm');
  const lite = exportsOf('../../pkg/warren_lite_bg.wasm');
  const leftOut = Object.values(LITE_LEAVES_OUT)
    .flat()
    .map((m) => `wasmbroker_${m}`);
  assert.deepEqual(lite.toSorted(), full.filter((name) => !leftOut.includes(name)).toSorted());
});

test('a client sees the same on the lite engine as on the full one', { timeout: 60_000 }, () => {
  const run = (entry) =>
    JSON.parse(execFileSync(process.execPath, [file('fixtures/lite-scenario.mjs'), file(entry)], { encoding: 'utf8' }));
  const lite = run('../../js/entry-lite-node.js');
  assert.deepEqual(lite, run('../../js/entry-node.js'));
  // and what it sees is right, not merely the same
  assert.deepEqual(lite.returned, [[312, 'us.ny']]);
  assert.deepEqual(lite.got, [
    ['eu.de', false, 5],
    ['eu.de', true, 5],
    ['eu.fr', false, 1],
  ]);
  assert.deepEqual(lite.deaths, [
    ['rejected', 'rejected', 'work', 1],
    ['expires', 'expired', 'work', 1],
  ]);
  assert.deepEqual(lite.deliveryCounts, [0, 1]);
  assert.equal(lite.afterTx, 1);
  assert.equal(lite.overflow[0], 'ack');
  assert.match(lite.overflow[1], /nacked/);
  assert.deepEqual(lite.recovered, ['first', true]);
  assert.equal(lite.error[0], 404);
  assert.ok(lite.events.includes('dead-lettered') && lite.events.includes('confirmed'), lite.events.join());
});

test('what the lite engine leaves out throws an Error naming it; the broker loses nothing', async () => {
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('kept');
  await ch.basicPublish('', 'kept', 'still here');
  const transport = { send() {}, close() {} };
  const calls = {
    'Broker.accept': () => broker.accept(transport),
    'Broker.snapshot': () => broker.snapshot(),
    'Broker.tapWire': () => broker.tapWire(() => {}),
    'Broker.users': () => broker.users(),
    'Broker.putUser': () => broker.putUser('u', { password: 'p' }),
    'Broker.setPermissions': () => broker.setPermissions('guest', '/', {}),
    'Broker.addVhost': () => broker.addVhost('v'),
    'Broker.vhosts': () => broker.vhosts(),
    'Broker.setVhostLimit': () => broker.setVhostLimit('/', 'max-queues', 1),
    'Broker.setPolicy': () => broker.setPolicy('p', { pattern: '.*', definition: { 'max-length': 1 } }),
    'Broker.policies': () => broker.policies(),
    'Broker.setBlocked': () => broker.setBlocked('low memory'),
    'Broker.heldBytes': () => broker.heldBytes(),
    'Broker.unattached': () => broker.unattached,
    'Broker.reattach': () => broker.reattach(1, transport),
    'Broker.closeUnattached': () => broker.closeUnattached(),
    'Broker.hashPassword': () => Broker.hashPassword('secret'),
  };
  for (const [api, call] of Object.entries(calls)) {
    assert.throws(call, { message: new RegExp(`^${api} is not in warren-mq/lite.*import it from 'warren-mq'`) }, api);
  }
  for (const [api, call] of Object.entries({
    'Broker.suspend': () => broker.suspend(),
    'Broker.exportDefinitions': () => broker.exportDefinitions(),
    'Broker.resume': () => Broker.resume(new Uint8Array(8)),
    'Broker: options.store': () => Broker.create({ store: { load: async () => null, append: async () => {} } }),
  })) {
    await assert.rejects(async () => call(), { message: new RegExp(`^${api} is not in warren-mq/lite`) }, api);
  }
  const msg = await ch.basicGet('kept');
  assert.equal(msg?.bodyString(), 'still here');
  await broker.close();
});
