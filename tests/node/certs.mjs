// A throwaway PKI made at run time with the openssl CLI: a root CA, an
// intermediate CA, a server certificate for 127.0.0.1/localhost (its file
// holds the chain: server then intermediate), and client certificates
// signed by the intermediate. Clients trust the root only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './server.mjs';

const openssl = (dir, ...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function key(dir, name) {
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
}

function sign(dir, name, subject, issuer, ext) {
  key(dir, name);
  openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${issuer}.pem`,
    '-CAkey',
    `${issuer}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  );
}

/** Makes the files; returns their paths and contents. */
export function makePki(clients = ['client-a']) {
  const dir = tmpDir('warren-pki-');
  key(dir, 'root');
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    'root.key',
    '-subj',
    '/CN=Warren Test Root',
    '-days',
    '2',
    '-out',
    'root.pem',
  );
  sign(
    dir,
    'inter',
    '/CN=Warren Test Intermediate',
    'root',
    'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n',
  );
  sign(
    dir,
    'server',
    '/CN=localhost',
    'inter',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  for (const c of clients) sign(dir, c, `/CN=${c}`, 'inter', 'extendedKeyUsage=clientAuth\n');
  const file = (n) => path.join(dir, n);
  const read = (n) => fs.readFileSync(file(n), 'utf8');
  // The server presents its chain; clients are checked against the chain too.
  fs.writeFileSync(file('server-chain.pem'), read('server.pem') + read('inter.pem'));
  fs.writeFileSync(file('ca-bundle.pem'), read('root.pem') + read('inter.pem'));
  return { dir, file, read };
}

/**
 * `serve`'s arguments for TLS on a port it picks: `pki`'s server certificate,
 * client certificates checked against its CAs, `users` (name to entry) as the
 * users file, then `extra`.
 */
export function tlsServeArgs(pki, users, ...extra) {
  const file = path.join(tmpDir(), 'users.json');
  fs.writeFileSync(file, JSON.stringify(users));
  return [
    ...['--users', file, '--tls-port', '0'],
    ...['--tls-cert', pki.file('server-chain.pem'), '--tls-key', pki.file('server.key')],
    ...['--tls-ca', pki.file('ca-bundle.pem'), ...extra],
  ];
}
