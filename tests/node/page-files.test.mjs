// The file store's pages (js/node/page-files.js): written and read back by
// id with positioned reads, files deleted once every page in them is, the
// index rebuilt from the files at open, a torn page at a file's end cut,
// pages a crash left behind deleted by `retainPages`, damage reported.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { FileStore } from '../../js/node/file-store.js';
import { PageFiles } from '../../js/node/page-files.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'warren-pages-'));
const page = (id, n = 1000) => new Uint8Array(n).fill(id % 251);

test('pages read back by id, across files, and survive reopening', async () => {
  const dir = tmp();
  let store = await FileStore.open(dir);
  for (let id = 1; id <= 20; id++) await store.writePage(id, page(id, 100 + id), { sync: id % 2 === 0 });
  for (const id of [20, 1, 7]) assert.deepEqual(await store.readPage(id), page(id, 100 + id));
  assert.deepEqual(store.pages, { files: ['page-00000001.seg'], count: 20 });
  await store.close();

  store = await FileStore.open(dir);
  assert.equal(store.pages.count, 20);
  assert.deepEqual(await store.readPage(13), page(13, 113));
  await assert.rejects(store.readPage(99), /page 99 is not in/);
  await store.close();
  fs.rmSync(dir, { recursive: true });
});

test('a page file goes once all its pages are deleted and it is no longer written to', async () => {
  const dir = tmp();
  const pages = await PageFiles.open(dir, { segmentSize: 3000 });
  for (let id = 1; id <= 9; id++) await pages.write(id, page(id));
  assert.deepEqual(pages.files, ['page-00000001.seg', 'page-00000002.seg', 'page-00000003.seg']);
  for (const id of [1, 2, 3]) await pages.delete(id);
  assert.deepEqual(pages.files, ['page-00000002.seg', 'page-00000003.seg']);
  assert.ok(!fs.existsSync(path.join(dir, 'page-00000001.seg')));
  assert.deepEqual(await pages.read(5), page(5));
  await pages.close();
  fs.rmSync(dir, { recursive: true });
});

test('after a crash: a torn last page is cut, and retainPages deletes the pages the log does not name', async () => {
  const dir = tmp();
  let store = await FileStore.open(dir);
  for (let id = 1; id <= 4; id++) await store.writePage(id, page(id), { sync: true });
  await store.close();
  // A write cut short by the crash: half a page at the end.
  const file = path.join(dir, 'page-00000001.seg');
  const whole = fs.statSync(file).size;
  fs.appendFileSync(file, fs.readFileSync(file).subarray(0, 600));

  store = await FileStore.open(dir);
  assert.equal(store.pages.count, 4);
  assert.equal(fs.statSync(file).size, whole, 'the torn page is cut');
  await store.retainPages([2, 4]);
  assert.equal(store.pages.count, 2);
  await assert.rejects(store.readPage(1), /not in/);
  assert.deepEqual(await store.readPage(4), page(4));
  // New pages go after the kept ones.
  await store.writePage(5, page(5));
  assert.deepEqual(await store.readPage(5), page(5));
  await store.close();
  fs.rmSync(dir, { recursive: true });
});

test('a damaged page is refused with its id and file, not handed to the engine', async () => {
  const dir = tmp();
  let store = await FileStore.open(dir);
  await store.writePage(1, page(1), { sync: true });
  await store.close();
  const file = path.join(dir, 'page-00000001.seg');
  const bytes = fs.readFileSync(file);
  bytes[500] ^= 0xff;
  fs.writeFileSync(file, bytes);
  store = await FileStore.open(dir);
  await assert.rejects(store.readPage(1), /page 1 in .*page-00000001\.seg is damaged \(checksum mismatch\)/);
  await store.close();
  fs.rmSync(dir, { recursive: true });
});
