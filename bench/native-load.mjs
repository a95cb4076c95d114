// Warren vs RabbitMQ under the native load generator (bench/loadgen, Rust,
// several publishing and consuming connections), in one run: builds the load
// generator (release), starts `warren-mq serve` (file store in a fresh
// temporary directory) and Debian's RabbitMQ on spare loopback ports, runs
// every mode with 16-byte and 1 KiB bodies against each, and prints messages/s,
// the broker's own CPU time per message, latency, and the load generator's own
// CPU, which shows whether the client or the broker set the pace.
// Each broker runs in a session of its own, as a service does: Linux's
// autogroup scheduling then gives it a core whenever it is ready.
//
// The broker's CPU per message depends on how its clients write. The load
// generator's client (lapin) writes every frame its connection has queued in
// one system call, so a broker's read carries many frames. With a client that
// wrote each frame alone (amqprs, the load generator's client before), the
// broker woke for a few frames at a time: Warren spent 2.6 µs per auto-ack
// message against 1.0 now, RabbitMQ about the same either way (12.6 and 14.9).
//
// Before the first row each broker takes --warmup messages (auto-ack, in two
// loads of their own connections, as bench/serve-cpu.mjs warms up), so every
// row is the steady state of a running service. Without it the first row
// (auto-ack, 16 B) also paid each broker's first-use costs (V8's tier-up of
// Warren's hot code; RabbitMQ's own), some 40% more per message for both. 0
// leaves it out.
//
//   node bench/native-load.mjs [--scale 1] [--repeat 1] [--warmup 100000] [--publishers 2] [--consumers 2]
//                              [--threads 2] [--backlog 2000]
//
// Needs `npm run build`, a Rust toolchain and `apt-get install -y rabbitmq-server`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer, tmpDir } from '../tests/node/server.mjs';
import { printComparison } from './comparison-table.mjs';
import { groupCpuSeconds } from './proc-cpu.mjs';
import { rabbitmqInstalled, startRabbitMQ } from './rabbitmq.mjs';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '100000' },
    publishers: { type: 'string', default: '2' },
    consumers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    backlog: { type: 'string', default: '2000' },
  },
});
const scale = Number(values.scale);
const repeat = Number(values.repeat);
for (const [name, v] of Object.entries(values)) {
  const zero = name === 'warmup'; // 0: no warm-up
  if (!(Number(v) > 0 || (zero && Number(v) === 0))) {
    const what = zero ? 'a number of messages (0: none)' : 'a positive number';
    console.error(`native-load: --${name} must be ${what}, not ${JSON.stringify(v)}`);
    process.exit(2);
  }
}

const SIZES = [16, 1024];
// Messages per run: each run takes a few seconds on a loaded 2-core machine.
const COUNTS = {
  'auto-ack': 200000,
  'manual-ack': 200000,
  'confirms-acks': 100000,
  'persistent-confirms-acks': 50000,
};

const loadgenDir = fileURLToPath(new URL('./loadgen/', import.meta.url));
const loadgen = path.join(loadgenDir, 'target', 'release', 'warren-loadgen');

if (!fs.existsSync(new URL('../pkg/warren_bg.wasm', import.meta.url))) {
  console.error('native-load: pkg/ is missing: run `npm run build` first');
  process.exit(1);
}
if (!rabbitmqInstalled()) {
  console.error('native-load: RabbitMQ is missing: apt-get update && apt-get install -y rabbitmq-server');
  process.exit(1);
}

console.log('building the load generator (cargo build --release in bench/loadgen) ...');
const build = spawnSync('cargo', ['build', '--release', '--quiet'], { cwd: loadgenDir, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('native-load: building bench/loadgen failed (is cargo installed?)');
  process.exit(1);
}

/** One load generator run; resolves with its JSON report. */
function runLoadgen(url, mode, size, count) {
  const args = [
    ...['--url', url, '--mode', mode, '--size', String(size), '--count', String(count)],
    ...['--publishers', values.publishers, '--consumers', values.consumers, '--threads', values.threads],
    ...['--backlog', values.backlog],
    ...['--timeout', '300', '--json'],
  ];
  const run = spawnSync(loadgen, args, { encoding: 'utf8' });
  const line = run.stdout.trim().split('\n').pop();
  if (!line?.startsWith('{')) {
    throw new Error(`warren-loadgen ${args.join(' ')} failed (exit ${run.status}):\n${run.stderr}${run.stdout}`);
  }
  return JSON.parse(line);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Medians over `repeat` runs of one mode and size against one broker. */
function measure(broker, mode, size) {
  const count = Math.round(COUNTS[mode] * scale);
  runLoadgen(broker.url, mode, size, Math.min(10000, count)); // warm-up
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    const cpu0 = groupCpuSeconds(broker.pgid);
    const r = runLoadgen(broker.url, mode, size, count);
    const brokerCpu = groupCpuSeconds(broker.pgid) - cpu0;
    runs.push({
      rate: r.consumed_per_sec,
      cpu: (brokerCpu / count) * 1e6,
      // Cores' worth of CPU over the run: the broker's and the load generator's.
      brokerBusy: brokerCpu / r.total_secs,
      loadgenBusy: r.loadgen_cpu_secs / r.total_secs,
      loadgenCpu: (r.loadgen_cpu_secs / count) * 1e6,
      p50: r.latency_us.p50,
      p99: r.latency_us.p99,
      problems: r.problems,
    });
  }
  const pick = (k) => median(runs.map((r) => r[k]));
  return {
    count,
    rate: pick('rate'),
    cpu: pick('cpu'),
    brokerBusy: pick('brokerBusy'),
    loadgenBusy: pick('loadgenBusy'),
    loadgenCpu: pick('loadgenCpu'),
    p50: pick('p50'),
    p99: pick('p99'),
    problems: runs.flatMap((r) => r.problems),
  };
}

const dataDir = tmpDir('warren-native-load-');
const load0 = os.loadavg();
console.log(`load average before: ${load0.map((l) => l.toFixed(2)).join(', ')}`);
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
  const warm = Math.ceil(Number(values.warmup) / 2);
  if (warm > 0) {
    console.log(`warming each broker up with ${2 * warm} messages ...`);
    for (const broker of Object.values(brokers)) {
      runLoadgen(broker.url, 'auto-ack', 16, warm);
      runLoadgen(broker.url, 'auto-ack', 16, warm);
    }
  }
  for (const mode of Object.keys(COUNTS)) {
    for (const size of SIZES) {
      // Alternating brokers per row spreads the load of a shared machine evenly.
      const r = measure(brokers.rabbitmq, mode, size);
      const w = measure(brokers.warren, mode, size);
      results.push({ mode, size, r, w });
      console.log(`  ${mode}, ${size} B: RabbitMQ ${Math.round(r.rate)}/s, Warren ${Math.round(w.rate)}/s`);
    }
  }
} finally {
  await warren?.stop();
  await rabbit.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
const load1 = os.loadavg();

const pct = (x) => `${Math.round(x * 100)}%`;
const ms = (us) => (us / 1000).toFixed(1);
const loads = (l) => l.map((x) => x.toFixed(2)).join(', ');
printComparison({
  rabbitVersion: rabbit.version,
  results,
  columns: [
    ['broker busy (R / W)', (r, w) => `${pct(r.brokerBusy)} / ${pct(w.brokerBusy)}`],
    ['loadgen busy (R / W)', (r, w) => `${pct(r.loadgenBusy)} / ${pct(w.loadgenBusy)}`],
    ['loadgen µs/msg (R / W)', (r, w) => `${r.loadgenCpu.toFixed(1)} / ${w.loadgenCpu.toFixed(1)}`],
    ['p50 / p99 ms R', (r) => `${ms(r.p50)} / ${ms(r.p99)}`],
    ['p50 / p99 ms W', (r, w) => `${ms(w.p50)} / ${ms(w.p99)}`],
  ],
  about: [
    `load generator: bench/loadgen (Rust, lapin), ${values.publishers} publishing and ${values.consumers} consuming ` +
      `connections, ${values.threads} threads, one queue per consumer, prefetch 256, 512 publishes in flight per publisher (unconfirmed, or not yet written), ` +
      `at most ${values.backlog} published but not yet consumed; ` +
      `each broker warmed up with ${values.warmup} messages; median of ${repeat} run(s)`,
    `load average before ${loads(load0)}; after ${loads(load1)}`,
  ],
  notes: [
    'busy: CPU time over the run in cores (100% = one core); the machine has ' + os.cpus().length + '.',
    "loadgen µs/msg: the load generator's own CPU time per message (all its connections).",
    'p50 / p99: publish-to-delivery latency, from a timestamp in each body.',
  ],
});
const problems = results.flatMap(({ mode, size, r, w }) => [
  ...r.problems.map((p) => `RabbitMQ ${mode} ${size} B: ${p}`),
  ...w.problems.map((p) => `Warren ${mode} ${size} B: ${p}`),
]);
if (problems.length) {
  console.log(`\nchecks FAILED:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('\nchecks: every run consumed each message once, every confirm arrived, no queue was left with messages.');
