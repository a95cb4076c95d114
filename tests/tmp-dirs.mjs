// Temporary directories for the JS suites, removed when the test process
// exits: a run of every suite makes some 5,000 of them (a store torn at each
// byte offset, a worker's persisted storage), and a machine that runs the
// tests often would otherwise fill its /tmp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made = [];

process.on('exit', () => {
  for (const dir of made) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // A child still writing into it (a killed server's last flush): left behind.
    }
  }
});

/** A new empty directory under the OS's temporary directory, gone after the run. */
export function tmpDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
