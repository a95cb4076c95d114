// The command line: `warren-mq serve [options]`. Parses flags and WARREN_*
// variables, starts the server, prints where it listens, and shuts down
// cleanly on SIGINT/SIGTERM (clients see 320 CONNECTION_FORCED; exit 0).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from './log.js';
import { helpText, OPTIONS, resolveOptions } from './options.js';

const USAGE = 'Usage: warren-mq serve [options]   (warren-mq serve --help for the options)';

export async function main(argv = process.argv.slice(2), env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.boolean ? 'boolean' : 'string' }])),
      },
    });
  } catch (e) {
    console.error(`warren-mq: ${e.message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    const { readFileSync } = await import('node:fs');
    console.log(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    return 0;
  }
  if (values.help) {
    console.log(helpText());
    return 0;
  }
  if (positionals[0] !== 'serve' || positionals.length > 1) {
    console.error(positionals.length ? `warren-mq: unknown command: ${positionals.join(' ')}\n${USAGE}` : USAGE);
    return 2;
  }

  let opts;
  try {
    opts = resolveOptions(values, env);
  } catch (e) {
    console.error(`warren-mq: ${e.message}`);
    return 2;
  }
  const log = createLogger(opts.logLevel);
  let server;
  try {
    // Imported here so --help works before the engine is built.
    const { serve } = await import('./serve.js');
    server = await serve(opts, { log });
  } catch (e) {
    const unbuilt = /pkg[\\/]warren/.test(e.message);
    const hint = unbuilt
      ? ' (build the engine first: npm run build)'
      : e.code === 'EADDRINUSE'
        ? ' (another process listens there: choose other ports with --port and --http-port, or 0 for free ones)'
        : '';
    log('error', `cannot start: ${e.message}${hint}`);
    return 1;
  }
  // Handlers first: a parent that reads the URLs below may signal at once.
  const exited = new Promise((resolve) => {
    const stop = (signal) => {
      log('info', `${signal}: shutting down`);
      process.once(signal, () => process.exit(1)); // a second signal does not wait
      server.close().then(
        () => {
          log('info', 'stopped');
          resolve(0);
        },
        (e) => {
          log('error', `shutdown: ${e.stack ?? e}`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Closed from inside (the store failed): exitCode was set there.
    server.done.then(() => resolve(process.exitCode ?? 0));
  });
  const data = opts.memory ? 'memory only (--memory): nothing is kept on disk' : path.resolve(opts.dataDir);
  console.log(
    [
      'warren-mq is running',
      `  AMQP       ${server.amqpUrl}`,
      ...(server.amqpsUrl ? [`  AMQPS      ${server.amqpsUrl}`] : []),
      `  WebSocket  ${server.wsUrl}`,
      `  page       ${server.url}`,
      `  API        ${server.url}api/overview`,
      `  data       ${data}`,
      `  users      ${Object.keys(opts.users).join(', ')}; vhosts ${opts.vhosts.join(', ')}`,
    ].join('\n'),
  );

  return exited;
}
