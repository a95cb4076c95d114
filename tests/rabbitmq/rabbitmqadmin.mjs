// RabbitMQ's own command-line tool for its management API, rabbitmqadmin,
// run against RabbitMQ and against `warren-mq serve` (not part of `npm test`:
// the tool ships with RabbitMQ). Each command's exit code and output
// (tab-separated, where it lists) must be the same on both; every difference
// is printed, then the run fails if there was one.
//
// usage: node tests/rabbitmq/rabbitmqadmin.mjs HTTP_PORT AMQP_PORT [RABBITMQADMIN]
//   (RabbitMQ's management and AMQP ports, guest/guest from loopback: an
//   amqplib client on each broker is what the connection, channel and
//   consumer lists show; RABBITMQADMIN
//   defaults to the one on PATH, as Debian's rabbitmq-server installs it. The
//   commands declare and delete ra.* objects and the policy ra-p on vhost /)
import { spawnSync } from 'node:child_process';
import amqplib from 'amqplib';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tmpDir } from '../node/server.mjs';

const [httpPort, amqpPort, tool = 'rabbitmqadmin'] = process.argv.slice(2);
if (!Number(httpPort) || !Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/rabbitmqadmin.mjs HTTP_PORT AMQP_PORT [RABBITMQADMIN]');
  process.exit(2);
}
const defs = path.join(tmpDir('warren-rabbitmqadmin-'), 'defs.json');

// [command line, what to compare of the output]. `lines` compares the lines
// as a set (the brokers list in different orders), and only those of ra.*
// objects (`sorted`: of all); `counts` the same, RabbitMQ's read again for up
// to 18 s until it matches (its statistics lag by its 5 s collection interval
// or more); `exit` only the exit code (the text names the host or the file).
const COMMANDS = [
  ['declare queue name=ra.q durable=true', 'text'],
  ['declare queue name=ra.dlq durable=true', 'text'],
  ['declare exchange name=ra.x type=topic', 'text'],
  ['declare binding source=ra.x destination=ra.q routing_key=a.#', 'text'],
  ['declare binding source=ra.x destination=ra.dlq destination_type=queue routing_key=dead', 'text'],
  ['publish exchange=ra.x routing_key=a.b payload=hello', 'text'],
  ['publish exchange=ra.x routing_key=a.c payload=second properties={"priority":3}', 'text'],
  ['publish exchange=ra.x routing_key=nowhere payload=lost', 'text'],
  ['-f tsv list queues name durable messages messages_ready arguments', 'counts'],
  ['-f tsv list exchanges name type durable auto_delete internal', 'lines'],
  ['-f tsv list bindings source destination destination_type routing_key', 'lines'],
  // (Never a redelivery: Warren adds x-acquired-count to those, as RabbitMQ 4 does.)
  ['-f tsv get queue=ra.q ackmode=ack_requeue_false', 'text'],
  ['-f tsv get queue=ra.q ackmode=reject_requeue_true', 'exit'],
  ['-f tsv list queues name messages', 'counts'],
  ['declare policy name=ra-p pattern=^ra\\.q$ apply-to=queues definition={"max-length":1}', 'text'],
  ['-f tsv list policies name pattern apply-to definition priority', 'lines'],
  ['publish exchange=ra.x routing_key=a.d payload=third', 'text'],
  ['-f tsv list queues name messages', 'counts'],
  ['-f tsv list vhosts name', 'sorted'],
  ['-f tsv list users name tags', 'sorted'],
  ['-f tsv list permissions user vhost configure write read', 'sorted'],
  ['-f tsv list parameters', 'sorted'],
  ['-f tsv list operator_policies', 'sorted'],
  [`export ${defs}`, 'exit'],
  [`import ${defs}`, 'exit'],
  ['purge queue name=ra.q', 'text'],
  ['-f tsv get queue=ra.q', 'text'],
  ['delete policy name=ra-p', 'text'],
  ['delete binding source=ra.x destination=ra.q destination_type=queue properties_key=a.%23', 'text'],
  ['-f tsv list bindings source destination routing_key', 'lines'],
  ['delete queue name=ra.q', 'text'],
  ['delete queue name=ra.dlq', 'text'],
  ['delete exchange name=ra.x', 'text'],
  ['delete queue name=ra.none', 'text'],
  ['declare queue name=ra.bad arguments={"x-max-length":"ten"}', 'text'],
  ['declare queue name=ra.qq queue_type=quorum', 'text'],
  ['-f tsv list queues name type durable', 'lines'],
  ['delete queue name=ra.qq', 'text'],
  ['-f tsv list queues name', 'lines'],
  ['declare vhost name=ra-vh', 'text'],
  ['declare user name=ra-user password=secret tags=monitoring', 'text'],
  ['declare permission vhost=ra-vh user=ra-user configure=^ra\\. write=.* read=.*', 'text'],
  ['-f tsv list permissions user vhost configure write read', 'sorted'],
  ['-f tsv list users name tags', 'sorted'],
  ['declare vhost_limit vhost=ra-vh name=max-queues value=3', 'text'],
  ['-f tsv list vhost_limits', 'sorted'],
  ['delete vhost_limit vhost=ra-vh name=max-queues', 'text'],
  ['delete permission vhost=ra-vh user=ra-user', 'text'],
  ['delete user name=ra-user', 'text'],
  ['delete vhost name=ra-vh', 'text'],
  ['-f tsv list vhosts name', 'sorted'],
  // With the amqplib client's connection, channel (prefetch 7, confirms) and consumer.
  ['-f tsv list connections user vhost channels', 'sorted'],
  ['-f tsv list channels user vhost number prefetch_count confirm', 'sorted'],
  ['-f tsv list consumers queue.name consumer_tag ack_required prefetch_count', 'sorted'],
  ['delete user name=ra-none', 'text'],
  ['delete vhost name=ra-none', 'text'],
  ['close connection name=ra-none', 'text'],
];

/** Splits a command line as a shell would for these (no quotes inside). */
const argv = (line) => line.split(' ');

function run(port, line) {
  const r = spawnSync(tool, ['-H', '127.0.0.1', '-P', String(port), '-u', 'guest', '-p', 'guest', ...argv(line)], {
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`${tool}: ${r.error.message} (Debian: apt-get install rabbitmq-server)`);
  // (Only line ends are trimmed: a row's trailing tab is an empty last column.)
  return { status: r.status, out: (r.stdout + r.stderr).replace(/^\n+|\n+$/g, '') };
}

const ours = /(^|\t)ra[.-]/;
// Warren words the detail of a bad argument for people where RabbitMQ prints an
// Erlang term: what is bad is compared, the detail is not (README).
const DETAIL = /(invalid arg '[^']*' for queue '[^']*' in vhost '[^']*'): .*$/gm;
function shown({ status, out }, how) {
  if (how === 'exit') return `exit ${status}`;
  const [head, ...rows] = out.replace(DETAIL, '$1: (detail)').split('\n');
  const kept = how === 'sorted' ? rows : rows.filter((r) => ours.test(r));
  const lines = how === 'text' ? [head, ...rows] : [head, ...kept.sort()];
  return `exit ${status}\n${lines.join('\n')}`;
}

const warren = await startServer();
/** A client on the broker at `port`: a confirm channel consuming from ra.live, prefetch 7. */
async function client(port) {
  const c = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue('ra.live', { exclusive: true });
  await ch.prefetch(7);
  await ch.consume('ra.live', () => {}, { consumerTag: 'ra-consumer' });
  return c;
}
const clients = [await client(amqpPort), await client(warren.amqpPort)];
let differences = 0;
try {
  for (const [i, [line, how]] of COMMANDS.entries()) {
    const fromWarren = shown(run(warren.httpPort, line), how);
    let fromRabbit = shown(run(httpPort, line), how);
    // RabbitMQ's counts catch up within a few of its 5 s collection intervals.
    for (let i = 0; how === 'counts' && fromRabbit !== fromWarren && i < 6; i++) {
      await new Promise((r) => setTimeout(r, 3000));
      fromRabbit = shown(run(httpPort, line), how);
    }
    if (fromRabbit === fromWarren) {
      console.log(`same: ${i + 1}. ${line}`);
    } else {
      differences++;
      console.log(`DIFFERENT: ${i + 1}. ${line}\n  RabbitMQ:\n${indent(fromRabbit)}\n  Warren:\n${indent(fromWarren)}`);
    }
  }
} finally {
  for (const c of clients) await c.close();
  await warren.stop();
  fs.rmSync(path.dirname(defs), { recursive: true, force: true });
}
function indent(text) {
  return text.replace(/^/gm, '    ');
}
console.log(
  differences ? `rabbitmqadmin: ${differences} commands differ` : 'rabbitmqadmin: RabbitMQ and Warren answer alike',
);
process.exitCode = differences ? 1 : 0;
