// Warren vs RabbitMQ: the same workload, the same client (amqp-client.js over
// TCP, one connection), on the same machine, in one run. Starts `warren-mq
// serve` (file store in a temporary directory) and Debian's RabbitMQ on spare
// ports, runs every mode with 16-byte and 1 KiB bodies on each, stops both and
// prints messages/s and the broker's own CPU time per message, with ratios.
//
//   node bench/vs-rabbitmq.mjs [--scale 1] [--repeat 3]
//
// Needs `npm run build` and `apt-get install -y rabbitmq-server`.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startServer, tmpDir } from '../tests/node/server.mjs';
import { printComparison } from './comparison-table.mjs';
import { groupCpuSeconds } from './proc-cpu.mjs';
import { rabbitmqInstalled, startRabbitMQ } from './rabbitmq.mjs';
import { MODES, PREFETCH, runWorkload, WINDOW } from './workload.mjs';

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '1' }, repeat: { type: 'string', default: '3' } },
});
const scale = Number(values.scale);
const repeat = Number(values.repeat);
const SIZES = [16, 1024];
const COUNTS = { 'auto-ack': 100000, 'confirms + acks': 50000, 'persistent + confirms + acks': 30000 };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median messages/s and broker CPU µs per message over `repeat` runs. */
async function measure(broker, mode, size) {
  const count = Math.round(COUNTS[mode] * scale);
  await runWorkload(broker.url, mode, size, Math.min(5000, count)); // warm-up
  const rates = [];
  const cpus = [];
  const clients = [];
  for (let i = 0; i < repeat; i++) {
    const cpu0 = groupCpuSeconds(broker.pgid);
    const client0 = process.cpuUsage();
    const rate = await runWorkload(broker.url, mode, size, count);
    const { user, system } = process.cpuUsage(client0);
    rates.push(rate);
    cpus.push(((groupCpuSeconds(broker.pgid) - cpu0) / count) * 1e6);
    // The client's busy share of the run: near 100% means it set the pace.
    clients.push((user + system) / 1e6 / (count / rate));
  }
  return { rate: median(rates), cpu: median(cpus), client: median(clients), count };
}

if (!fs.existsSync(new URL('../pkg/warren_bg.wasm', import.meta.url))) {
  console.error('vs-rabbitmq: pkg/ is missing: run `npm run build` first');
  process.exit(1);
}
if (!rabbitmqInstalled()) {
  console.error('vs-rabbitmq: RabbitMQ is missing: apt-get update && apt-get install -y rabbitmq-server');
  process.exit(1);
}

const dataDir = tmpDir('warren-bench-');
console.log('starting RabbitMQ and Warren ...');
const rabbit = await startRabbitMQ();
let warren;
const results = [];
try {
  warren = await startServer({ dataDir, args: ['--log-level', 'warn'], detached: true });
  const brokers = {
    rabbitmq: { url: rabbit.url, pgid: rabbit.pgid },
    warren: { url: warren.url, pgid: warren.child.pid },
  };
  for (const mode of Object.keys(MODES)) {
    for (const size of SIZES) {
      // Alternating brokers per row spreads the load of a shared machine evenly.
      const r = await measure(brokers.rabbitmq, mode, size);
      const w = await measure(brokers.warren, mode, size);
      results.push({ mode, size, r, w });
      console.log(`  ${mode}, ${size} B: RabbitMQ ${Math.round(r.rate)}/s, Warren ${Math.round(w.rate)}/s`);
    }
  }
} finally {
  await warren?.stop();
  await rabbit.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

printComparison({
  rabbitVersion: rabbit.version,
  results,
  columns: [['client busy (R / W)', (r, w) => `${Math.round(r.client * 100)}% / ${Math.round(w.client * 100)}%`]],
  about: [
    `client: amqp-client.js over TCP (TCP_NODELAY), one connection, a publishing and a consuming channel; ` +
      `${WINDOW} publishes in flight, prefetch ${PREFETCH}, median of ${repeat} runs`,
  ],
  notes: [
    'client busy: CPU time of this (single-threaded) client process over the run; near 100% means',
    'the client, not the broker, set the pace.',
  ],
});
