// Instructions per message of the native engine loop (publish -> deliver ->
// ack, 16-byte bodies; see `bench/engine.rs --once`), counted by valgrind's
// cachegrind: unlike msg/s, the count does not move with the load other
// programs put on the machine, so before/after comparisons hold on a shared one.
//
//   node bench/engine-instructions.mjs [--messages N] [--binary PATH] [--exchange NAME]
//
// --binary: an engine bench binary built elsewhere (an older commit, to compare).
// --exchange: publish through this exchange (amq.direct, say), bound to the
// queue by its name, instead of the default exchange.
//
// Each batch size runs twice (N and 2N messages); the difference divided by N
// leaves out setup and valgrind's own start.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    binary: { type: 'string' },
    exchange: { type: 'string', default: '' },
  },
});
const N = Number(opts.messages);
const root = fileURLToPath(new URL('..', import.meta.url));

const build = () =>
  execFileSync('cargo', ['bench', '--bench', 'engine', '--no-run', '--message-format=json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const binary =
  opts.binary ??
  build()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'engine' && m.executable)?.executable;
if (!binary) throw new Error('cargo did not report the engine bench binary');

function countOf(batch, n) {
  const r = execFileSync(
    'sh',
    [
      '-c',
      `valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$0" --once ${batch} ${n} "$1" 2>&1`,
      binary,
      opts.exchange,
    ],
    { encoding: 'utf8' },
  );
  const m = r.match(/I\s+refs:\s+([\d,]+)/);
  if (!m) throw new Error(`no instruction count in valgrind output:\n${r}`);
  return Number(m[1].replaceAll(',', ''));
}

const through = opts.exchange ? `through ${opts.exchange}` : 'default exchange';
console.log(
  `engine publish->deliver->ack, 16 B bodies, ${through}, instructions per message (${N} vs ${2 * N} messages):`,
);
for (const batch of [1, 64, 1000]) {
  const per = (countOf(batch, 2 * N) - countOf(batch, N)) / N;
  console.log(`  batch ${String(batch).padStart(4)}: ${per.toFixed(0).padStart(6)} instructions/msg`);
}
