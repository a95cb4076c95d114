// tests/tmp-dirs.mjs: a directory a test process makes is there while it
// runs and gone once it exits, with what was written into it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import test from 'node:test';

const helper = new URL('../tmp-dirs.mjs', import.meta.url).href;

test('a temporary directory is removed, contents and all, when its process exits', () => {
  const program = `
    import fs from 'node:fs';
    import path from 'node:path';
    const { tmpDir } = await import(${JSON.stringify(helper)});
    const dir = tmpDir('warren-tmp-dirs-test-');
    fs.mkdirSync(path.join(dir, 'inner'));
    fs.writeFileSync(path.join(dir, 'inner', 'file'), 'bytes');
    console.log(dir, fs.existsSync(path.join(dir, 'inner', 'file')));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [dir, existed] = r.stdout.trim().split(' ');
  assert.equal(existed, 'true', 'the directory and its file were there while the process ran');
  assert.equal(fs.existsSync(dir), false, `${dir} is left behind`);
});
