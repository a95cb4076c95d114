// GET /api/nodes[/{name}]: the one node, with the fields monitoring tools
// read from RabbitMQ's (running, memory and disk against their alarms,
// sockets, uptime). Memory is what the high watermark measures, the bytes
// queued messages hold, so `mem_alarm` is `mem_used > mem_limit` as tools
// expect; with the watermark off the limit is the machine's memory.
import fs from 'node:fs';
import os from 'node:os';

const EXCHANGE_TYPES = [
  ['direct', 'AMQP direct exchange, as per the AMQP specification'],
  ['fanout', 'AMQP fanout exchange, as per the AMQP specification'],
  ['headers', 'AMQP headers exchange, as per the AMQP specification'],
  ['topic', 'AMQP topic exchange, as per the AMQP specification'],
];

/** Open file descriptors, where /proc says (Linux); undefined elsewhere. */
function openFiles() {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** Free bytes on the data directory's file system; undefined without one. */
function diskFree(dir) {
  if (!dir) return undefined;
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/**
 * `info`: node, startedAt, dataDir (null with --memory), maxConnections,
 * peers, alarm (the memory alarm: limit, blocked), alarms().
 */
export function nodeView(broker, info) {
  const alarms = info.alarms?.() ?? [];
  return {
    name: info.node,
    type: info.dataDir ? 'disc' : 'ram',
    running: true,
    os_pid: String(process.pid),
    uptime: Date.now() - info.startedAt,
    processors: os.availableParallelism?.() ?? os.cpus().length,
    mem_used: broker.heldBytes(),
    mem_limit: info.alarm?.limit ?? os.totalmem(),
    mem_alarm: alarms.includes('memory'),
    // A disk alarm here is a failed write (ENOSPC), not a threshold.
    disk_free: diskFree(info.dataDir),
    disk_free_limit: 0,
    disk_free_alarm: alarms.includes('disk'),
    fd_used: openFiles(),
    sockets_used: info.peers.size,
    sockets_total: info.maxConnections || undefined,
    partitions: [],
    run_queue: 0,
    rates_mode: 'basic',
    db_dir: info.dataDir ?? undefined,
    exchange_types: EXCHANGE_TYPES.map(([name, description]) => ({ name, description, enabled: true })),
    auth_mechanisms: ['PLAIN', 'AMQPLAIN', 'EXTERNAL'].map((name) => ({ name, enabled: true })),
  };
}
