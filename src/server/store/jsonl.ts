import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { LIMITS } from '../limits';

/** Where one record lives in its file, to read it back later without keeping it in memory. */
export interface RecordRef {
  offset: number;
  length: number;
}

/** One append-only file of JSON lines. */
export interface JsonlLog {
  /** Appends one record (a line) synchronously; returns where it was written. */
  append(record: unknown): RecordRef;
  /** Reads back the record at `ref`; undefined when it can no longer be read. */
  readAt(ref: RecordRef): unknown;
  close(): void;
}

const NEWLINE = 0x0a;

/**
 * Opens (creating) `path` and replays every record through `onRecord`, in file order. Lines that are
 * not JSON objects (a crash mid-write, a hand edit) are skipped, with one warning per file. A last
 * line without its newline gets one, so that the next append starts on a line of its own.
 */
export function openJsonl(path: string, onRecord: (record: Record<string, unknown>, ref: RecordRef) => void, warn: (line: string) => void): JsonlLog {
  const fd = openSync(path, 'a+');
  let size = fstatSync(fd).size;
  let corrupt = 0;
  let firstCorruptLine = 0;
  let lineNumber = 0;

  const handleLine = (bytes: Buffer, offset: number, tooLong: boolean): void => {
    lineNumber++;
    if (bytes.length === 0 && !tooLong) return;
    let record: unknown;
    if (!tooLong) {
      try {
        record = JSON.parse(bytes.toString('utf8'));
      } catch {
        record = undefined;
      }
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      corrupt++;
      if (firstCorruptLine === 0) firstCorruptLine = lineNumber;
      return;
    }
    try {
      onRecord(record as Record<string, unknown>, { offset, length: bytes.length });
    } catch {
      corrupt++;
      if (firstCorruptLine === 0) firstCorruptLine = lineNumber;
    }
  };

  // Read in chunks: a data folder may be far larger than one string can hold.
  const chunk = Buffer.allocUnsafe(1 << 20);
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let lineStart = 0;
  let tooLong = false;
  let pos = 0;
  while (pos < size) {
    const n = readSync(fd, chunk, 0, chunk.length, pos);
    if (n <= 0) break;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, from);
      if (nl === -1 || nl >= n) break;
      const piece = chunk.subarray(from, nl);
      const line = pendingLength === 0 ? piece : Buffer.concat([...pending, piece]);
      handleLine(tooLong ? Buffer.alloc(0) : line, lineStart, tooLong);
      pending = [];
      pendingLength = 0;
      tooLong = false;
      from = nl + 1;
      lineStart = pos + from;
    }
    if (from < n && !tooLong) {
      pending.push(Buffer.from(chunk.subarray(from, n)));
      pendingLength += n - from;
      if (pendingLength > LIMITS.maxStoredLineBytes) {
        tooLong = true;
        pending = [];
        pendingLength = 0;
      }
    }
    pos += n;
  }
  if (pendingLength > 0 || tooLong) {
    handleLine(tooLong ? Buffer.alloc(0) : Buffer.concat(pending), lineStart, tooLong);
    writeSync(fd, '\n');
    size += 1;
  }
  if (corrupt > 0) {
    warn(`skipped ${corrupt} corrupt line${corrupt === 1 ? '' : 's'} in ${basename(path)} (first at line ${firstCorruptLine})`);
  }

  let closed = false;
  return {
    append(record) {
      const line = Buffer.from(JSON.stringify(record) + '\n', 'utf8');
      if (closed) return { offset: -1, length: 0 };
      writeSync(fd, line);
      const ref = { offset: size, length: line.length - 1 };
      size += line.length;
      return ref;
    },
    readAt(ref) {
      if (closed || ref.offset < 0) return undefined;
      try {
        const b = Buffer.alloc(ref.length);
        readSync(fd, b, 0, ref.length, ref.offset);
        return JSON.parse(b.toString('utf8'));
      } catch {
        return undefined;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}
