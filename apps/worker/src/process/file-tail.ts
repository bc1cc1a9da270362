import { open, stat } from 'node:fs/promises';

/** The last `bytes` of a file as UTF-8 (a command's output can be large), or undefined when it can't be read. */
export async function readFileTail(file: string, bytes: number): Promise<string | undefined> {
  try {
    const size = (await stat(file)).size;
    const fh = await open(file, 'r');
    try {
      const len = Math.min(size, bytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
