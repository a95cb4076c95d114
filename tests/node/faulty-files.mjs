// Fault injection for the file store: `FileStore.open(dir, { openFile: faults.openFile })`
// gives it real files whose handles fail, tear or slow down as told. Faults
// are set and cleared while the store runs:
//
//   faults.write = { code: 'ENOSPC', tearAt: 5 }   the next writes put 5 bytes on disk, then fail
//   faults.sync = 'EIO'                            fdatasync/fsync fail, and so do writes
//                                                  to a file opened with O_DSYNC (after
//                                                  their bytes are written, as a failed flush)
//   faults.delayMs = 50                            every write and sync waits first
//
// A torn write reaches the real file (it is what a crash or a full disk
// leaves), so recovery and the store's undo are tested against real bytes.
import { constants as fsConstants } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An Error shaped like Node's own for a failed system call. */
export function errnoError(code, syscall) {
  const messages = { ENOSPC: 'no space left on device', EIO: 'i/o error', EDQUOT: 'disk quota exceeded' };
  const err = new Error(`${code}: ${messages[code] ?? 'injected fault'}, ${syscall}`);
  return Object.assign(err, { code, syscall, errno: -(os.constants.errno[code] ?? 5) });
}

export class Faults {
  /** `{ code, tearAt }` while writes fail */
  write = null;
  /** an error code while syncs fail */
  sync = null;
  delayMs = 0;
  /** what happened: lengths of the writes asked for, syncs done, faults raised */
  writes = [];
  syncs = 0;
  raised = [];
  /** the bytes the last failed write left in the file */
  torn = null;

  openFile = async (file, flags) => this.#wrap(await fsp.open(file, flags), flags);

  #wrap(fh, flags) {
    // Each write on such a file is also its sync.
    const dsync = typeof flags === 'number' && (flags & fsConstants.O_DSYNC) !== 0;
    const faults = this;
    const synced = async (call) => {
      if (faults.delayMs) await sleep(faults.delayMs);
      if (faults.sync) {
        faults.raised.push(`${call} ${faults.sync}`);
        throw errnoError(faults.sync, call);
      }
      await fh[call]();
      faults.syncs++;
    };
    return {
      async write(buf, offset, length, position) {
        if (faults.delayMs) await sleep(faults.delayMs);
        faults.writes.push(length);
        if (faults.write) {
          const { code, tearAt = 0 } = faults.write;
          const torn = Math.min(tearAt, length);
          if (torn > 0) await fh.write(buf, offset, torn, position);
          faults.torn = Uint8Array.prototype.slice.call(buf, offset, offset + torn);
          faults.raised.push(`write ${code} after ${torn} of ${length}`);
          throw errnoError(code, 'write');
        }
        if (!dsync) return fh.write(buf, offset, length, position);
        const written = await fh.write(buf, offset, length, position);
        if (faults.sync) {
          faults.raised.push(`write (O_DSYNC) ${faults.sync}`);
          throw errnoError(faults.sync, 'write');
        }
        faults.syncs++;
        return written;
      },
      datasync: () => synced('datasync'),
      sync: () => synced('sync'),
      truncate: (len) => fh.truncate(len),
      close: () => fh.close(),
    };
  }
}
