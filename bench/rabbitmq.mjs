// Starts Debian's RabbitMQ (apt-get install rabbitmq-server) as this user on
// spare ports with its own temporary directories, and stops it again: the
// reference broker for the benchmark and for checking behaviour.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function rabbitmqInstalled() {
  return fs.existsSync(SERVER);
}

/** Resolves with { port, url, pgid, version, stop() } once RabbitMQ accepts connections. */
export async function startRabbitMQ({ timeoutMs = 90000 } = {}) {
  if (!rabbitmqInstalled()) {
    throw new Error('RabbitMQ is not installed: apt-get update && apt-get install -y rabbitmq-server');
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-rabbitmq-'));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const config = path.join(base, 'rabbitmq.conf');
  fs.writeFileSync(
    config,
    [
      'listeners.tcp.1 = 127.0.0.1:' + port,
      'loopback_users = none',
      'vm_memory_high_watermark.relative = 0.6',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(base, 'enabled_plugins'), '[].\n');
  const env = {
    ...process.env,
    HOME: base, // its own Erlang cookie
    RABBITMQ_NODENAME: `warren-ref-${process.pid}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_CONFIG_FILE: config.replace(/\.conf$/, ''),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(base, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(base, 'log'),
    RABBITMQ_PID_FILE: path.join(base, 'rabbitmq.pid'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(base, 'advanced.config'),
  };
  const child = spawn(SERVER, [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));

  const stop = async () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 15000);
    await exited;
    clearTimeout(timer);
    // The epmd this node started on its own port.
    spawnSync('epmd', ['-port', String(epmdPort), '-kill'], { stdio: 'ignore', env });
    fs.rmSync(base, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`RabbitMQ did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const version = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], {
    encoding: 'utf8',
  }).stdout.trim();
  // pgid: the server's process group (beam.smp and its helpers), for CPU time.
  return { port, url: `amqp://guest:guest@127.0.0.1:${port}`, pgid: child.pid, version, stop, log: () => out };
}
