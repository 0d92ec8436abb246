/**
 * Writing files so a reader (or a crash) never sees half of one: write a temp
 * file next to the target, flush it to disk, rename it over the target.
 * rename() within one directory is atomic on POSIX filesystems.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** A temp file name next to `target`, hidden, unique per process and call. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/** Writes `data` to a flushed temp file next to `target`; returns the temp path. */
export function writeTempFile(target: string, data: string | Uint8Array, mode = 0o644): string {
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  return tmp;
}

/** Replaces `target` with `data` atomically: readers see the old or the new file, never a mix. */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): void {
  writeFilesAtomic([{ path: target, data }], mode);
}

/**
 * Writes several files, each atomically, and only after every one of them was
 * written out completely: a failure before the renames leaves all targets as
 * they were and no temp file behind.
 */
export function writeFilesAtomic(files: ReadonlyArray<{ path: string; data: string | Uint8Array }>, mode = 0o644): void {
  const temps: Array<{ tmp: string; target: string }> = [];
  try {
    for (const f of files) temps.push({ tmp: writeTempFile(f.path, f.data, mode), target: f.path });
  } catch (e) {
    for (const t of temps) fs.rmSync(t.tmp, { force: true });
    throw e;
  }
  let renamed = 0;
  try {
    for (const t of temps) {
      fs.renameSync(t.tmp, t.target);
      renamed++;
    }
  } catch (e) {
    for (const t of temps.slice(renamed)) fs.rmSync(t.tmp, { force: true });
    throw e;
  }
}
