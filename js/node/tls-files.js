// The TLS files of `warren-mq serve`: read and checked at start-up, so a bad
// or missing file stops the server with a message naming the file and the
// problem rather than failing the first handshake.
import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';

function read(flag, file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new Error(`${flag} ${file}: cannot read: ${why}`);
  }
}

/** The certificates in a PEM text, each checked to parse. */
function certificates(flag, file, text) {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new Error(`${flag} ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  return blocks.map((pem, i) => {
    try {
      return new crypto.X509Certificate(pem);
    } catch (e) {
      throw new Error(`${flag} ${file}: certificate ${i + 1} does not parse: ${e.message}`);
    }
  });
}

/**
 * { cert, key, ca?, verify? } -> options for tls.createServer: the
 * certificate with its chain, the key, and with a CA the verification of
 * client certificates. `verify` is RabbitMQ's fail_if_no_peer_cert choice:
 * 'require' (the default here: a client without a valid certificate is
 * refused in the handshake) or 'peer' (a certificate is verified if one is
 * presented; clients without one get in and log in with a password). Also
 * returns `subject`, `expires`.
 */
export function loadTls({ cert, key, ca, verify = 'require' }) {
  if (!cert || !key) throw new Error('TLS needs both --tls-cert and --tls-key');
  if (verify !== 'require' && verify !== 'peer') throw new Error(`--tls-verify ${verify}: expected require or peer`);
  if (verify === 'peer' && !ca) throw new Error('--tls-verify peer needs --tls-ca (the CA to verify against)');
  const certText = read('--tls-cert', cert);
  const chain = certificates('--tls-cert', cert, certText);
  const keyText = read('--tls-key', key);
  let privateKey;
  try {
    privateKey = crypto.createPrivateKey(keyText);
  } catch (e) {
    throw new Error(`--tls-key ${key}: not a PEM private key (${e.message})`);
  }
  if (!chain[0].checkPrivateKey(privateKey))
    throw new Error(`--tls-key ${key}: does not match the certificate in ${cert}`);
  const now = Date.now();
  if (Date.parse(chain[0].validTo) < now)
    throw new Error(`--tls-cert ${cert}: the certificate expired on ${chain[0].validTo}`);
  const options = { cert: certText, key: keyText };
  if (ca) {
    const caText = read('--tls-ca', ca);
    certificates('--tls-ca', ca, caText);
    Object.assign(options, { ca: caText, requestCert: true, rejectUnauthorized: verify === 'require' });
  }
  try {
    tls.createSecureContext(options);
  } catch (e) {
    throw new Error(`--tls-cert ${cert} / --tls-key ${key}: ${e.message}`);
  }
  return { options, subject: chain[0].subject.replace(/\n/g, ', '), expires: chain[0].validTo };
}

/**
 * Why a TLS socket must go although its handshake finished, or null: with
 * `verify: 'peer'` Node lets every certificate through, so one that was
 * presented and failed verification is refused here (RabbitMQ refuses it in
 * the handshake; the client sees the connection closed either way).
 */
export function refusedCertificate(socket, tlsOptions) {
  if (!tlsOptions?.requestCert || tlsOptions.rejectUnauthorized || socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null; // none presented: a password login
  return `client certificate ${cert.subject?.CN ?? '?'} refused: ${socket.authorizationError}`;
}
