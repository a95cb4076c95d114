// The results table shared by the Warren-vs-RabbitMQ benchmarks: one row per
// mode and body size, both brokers' throughput and CPU per message side by
// side, then each benchmark's own columns and notes.
import fs from 'node:fs';
import os from 'node:os';

const fmt = (n) => Math.round(n).toLocaleString('en-US');

/**
 * `results`: `{ mode, size, r, w }` with RabbitMQ's (`r`) and Warren's (`w`)
 * `{ count, rate, cpu }`; `columns`: `[heading, (r, w) => cell]` after the
 * shared ones; `about`: lines on how it ran; `notes`: lines under the table.
 */
export function printComparison({ rabbitVersion, results, columns = [], about = [], notes = [] }) {
  const rows = [
    [
      'mode',
      'body',
      'messages',
      'RabbitMQ msg/s',
      'Warren msg/s',
      'ratio',
      'RabbitMQ CPU µs/msg',
      'Warren CPU µs/msg',
      'ratio',
      ...columns.map(([heading]) => heading),
    ],
    ...results.map(({ mode, size, r, w }) => [
      mode,
      size === 1024 ? '1 KiB' : `${size} B`,
      fmt(w.count),
      fmt(r.rate),
      fmt(w.rate),
      `${(w.rate / r.rate).toFixed(1)}x`,
      r.cpu.toFixed(1),
      w.cpu.toFixed(1),
      `${(r.cpu / w.cpu).toFixed(1)}x`,
      ...columns.map(([, cell]) => cell(r, w)),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const version = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url))).version;
  console.log(
    `\nWarren ${version} vs RabbitMQ ${rabbitVersion}` +
      ` on ${os.cpus().length} CPUs (${os.cpus()[0].model.trim()}), node ${process.version}`,
  );
  for (const text of about) console.log(text);
  console.log(`Warren: file store (one O_DSYNC write per group commit); RabbitMQ: Debian defaults, classic queues\n`);
  console.log(line(rows[0]));
  console.log(`|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
  console.log(
    [
      '',
      'msg/s: from the first publish until the last message is consumed (and every confirm is in).',
      "CPU µs/msg: CPU time of the broker's processes only, per message.",
      ...notes,
    ].join('\n'),
  );
}
