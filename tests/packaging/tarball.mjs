// Shared by the packaging and browser tests: the package as `npm pack` makes
// it, installed into a fresh directory the way a user installs it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return [dir, () => fs.rmSync(dir, { recursive: true, force: true })];
}

/** Packs the repository into `dir`; returns the tarball's path and the packed file list. */
export function pack(dir) {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root));
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path) };
}

/** Writes package.json with `dependencies` into `dir` and installs them. */
export function install(dir, dependencies) {
  const manifest = path.join(dir, 'package.json');
  const pkg = fs.existsSync(manifest)
    ? JSON.parse(fs.readFileSync(manifest, 'utf8'))
    : { private: true, type: 'module' };
  pkg.dependencies = { ...pkg.dependencies, ...dependencies };
  fs.writeFileSync(manifest, JSON.stringify(pkg, null, 2));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
}

/** The version range the repository itself uses for a dev dependency. */
export function devVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies[name];
}
