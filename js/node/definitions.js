// Users, permissions and vhosts changed through the management API outlive a
// restart: serve keeps them in <data-dir>/definitions.json, in RabbitMQ's
// definitions format (users with rabbit_password_hashing_sha256 hashes, never
// plain passwords). Once that file exists it is what the broker starts with,
// as RabbitMQ's own database is after its first boot; --users seeds a new
// data directory.
import fs from 'node:fs';
import path from 'node:path';
import { fromDefinitions } from './options.js';

const FILE = 'definitions.json';

/** Plain passwords replaced by RabbitMQ's salted SHA-256 hashes. */
export function hashPasswords(users, hash) {
  const out = {};
  for (const [name, u] of Object.entries(users)) {
    const { password, ...rest } = u;
    out[name] = password === undefined ? rest : { ...rest, passwordHash: hash(password) };
  }
  return out;
}

/** The saved definitions of `dataDir`: { users, vhosts } or null when there are none yet. */
export function loadDefinitions(dataDir) {
  const file = path.join(dataDir, FILE);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${e.message}`);
  }
  let defs;
  try {
    defs = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${e.message}`);
  }
  return { file, users: fromDefinitions(defs, file), vhosts: (defs.vhosts ?? []).map((v) => v.name) };
}

/** Writes the broker's users, permissions and vhosts (to a new file, then renamed over the old). */
export function saveDefinitions(dataDir, broker) {
  const users = broker.users();
  const defs = {
    users: users.map((u) => ({
      name: u.name,
      password_hash: u.passwordHash,
      hashing_algorithm: u.hashingAlgorithm,
      tags: u.tags,
    })),
    vhosts: broker.vhosts().map((name) => ({ name })),
    permissions: users.flatMap((u) =>
      u.permissions.map((p) => ({
        user: u.name,
        vhost: p.vhost,
        configure: p.configure,
        write: p.write,
        read: p.read,
      })),
    ),
  };
  const file = path.join(dataDir, FILE);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(defs, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}
