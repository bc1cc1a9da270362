/**
 * A logfmt line (`time=2026-12-02T13:49:42Z level=error msg="boom" method=GET path=/x status=500`, as Go's
 * slog text handler, logrus and Heroku write) as a record; undefined when the line is not logfmt (fewer
 * than two `key=value` pairs, or text before the first pair).
 */
export function parseLogfmt(line: string): Record<string, string> | undefined {
  const text = line.trim();
  if (!/^[\w.@/-]+=/.test(text)) return undefined;
  const out: Record<string, string> = {};
  const pair = /([\w.@/-]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*/y;
  let pos = 0;
  let pairs = 0;
  while (pos < text.length) {
    pair.lastIndex = pos;
    const m = pair.exec(text);
    if (!m?.[1]) return pairs >= 2 ? out : undefined;
    out[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    pairs++;
    pos = pair.lastIndex;
  }
  return pairs >= 2 ? out : undefined;
}
