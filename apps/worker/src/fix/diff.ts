/**
 * A parsed `git diff -U0 --no-renames` of a fix: what each file lost and gained, hunk by hunk.
 * Renames are disabled so a moved file shows as a deletion plus an addition and both paths are checked.
 */

export interface DiffHunk {
  removed: string[];
  added: string[];
}

export interface FileChange {
  path: string;
  status: 'added' | 'deleted' | 'modified';
  binary: boolean;
  hunks: DiffHunk[];
}

/** Git arguments that produce the diff `parseDiff` reads, independent of the user's diff config. */
export const PARSEABLE_DIFF_ARGS = [
  '-c',
  'core.quotePath=false',
  'diff',
  '--no-renames',
  '--no-color',
  '--no-ext-diff',
  '--no-textconv',
  '--src-prefix=a/',
  '--dst-prefix=b/',
  '-U0',
];

/** Parses unified diff text (as produced with `PARSEABLE_DIFF_ARGS`) into one entry per file. */
export function parseDiff(text: string): FileChange[] {
  const files: FileChange[] = [];
  let file: FileChange | undefined;
  let hunk: DiffHunk | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('diff --git ')) {
      file = { path: headerPath(line.slice('diff --git '.length)), status: 'modified', binary: false, hunks: [] };
      files.push(file);
      hunk = undefined;
      continue;
    }
    if (!file) continue;
    if (!hunk) {
      if (line.startsWith('new file mode')) file.status = 'added';
      else if (line.startsWith('deleted file mode')) file.status = 'deleted';
      else if (line.startsWith('Binary files ')) file.binary = true;
      else if (line.startsWith('+++ ') && line !== '+++ /dev/null') file.path = stripPrefix(unquote(line.slice(4)), 'b/');
      else if (line.startsWith('--- ') && line !== '--- /dev/null' && file.status === 'deleted') file.path = stripPrefix(unquote(line.slice(4)), 'a/');
      else if (line.startsWith('@@')) {
        hunk = { removed: [], added: [] };
        file.hunks.push(hunk);
      }
      continue;
    }
    if (line.startsWith('@@')) {
      hunk = { removed: [], added: [] };
      file.hunks.push(hunk);
    } else if (line.startsWith('+')) hunk.added.push(line.slice(1));
    else if (line.startsWith('-')) hunk.removed.push(line.slice(1));
  }
  return files;
}

/** All lines a file gained or lost, over all hunks. */
export function addedLines(file: FileChange): string[] {
  return file.hunks.flatMap((h) => h.added);
}

export function removedLines(file: FileChange): string[] {
  return file.hunks.flatMap((h) => h.removed);
}

// "a/P b/P" with renames off has the same path twice, which lets us split it even when P has spaces.
function headerPath(rest: string): string {
  if (rest.startsWith('"')) {
    const end = closingQuote(rest);
    return stripPrefix(unquote(rest.slice(0, end + 1)), 'a/');
  }
  const half = (rest.length - 1) / 2;
  return stripPrefix(rest.slice(0, Math.floor(half)), 'a/');
}

function closingQuote(s: string): number {
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return s.length - 1;
}

function stripPrefix(p: string, prefix: string): string {
  return p.startsWith(prefix) ? p.slice(prefix.length) : p;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Undoes git's C-style quoting of unusual path names (octal escapes are UTF-8 bytes). */
function unquote(s: string): string {
  const trimmed = s.replace(/\t$/, '');
  if (!trimmed.startsWith('"') || !trimmed.endsWith('"')) return trimmed;
  const body = trimmed.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = body[i + 1] ?? '';
    const octal = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
    } else {
      bytes.push(...Buffer.from(ESCAPES[next] ?? next, 'utf8'));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
