/**
 * Picks the offered type the Accept header prefers: each candidate takes the q-value of the most specific
 * range that matches it (exact > type/* > *\/*), the highest q wins, ties go to the earlier candidate.
 * No header means anything; undefined when nothing offered is acceptable.
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | undefined {
  if (!accept?.trim()) return offered[0];
  const ranges = accept
    .split(',')
    .slice(0, 50)
    .map((part) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const qv = q ? Number(q.slice(2)) : 1;
      return { type: type.trim(), q: Number.isFinite(qv) ? qv : 0 };
    })
    .filter((r) => r.type);
  let best: { type: string; q: number } | undefined;
  for (const candidate of offered) {
    const main = candidate.split('/')[0];
    let match: { q: number; specificity: number } | undefined;
    for (const r of ranges) {
      const specificity = r.type === candidate ? 2 : r.type === `${main}/*` ? 1 : r.type === '*/*' ? 0 : -1;
      if (specificity >= 0 && (!match || specificity > match.specificity)) match = { q: r.q, specificity };
    }
    if (match && match.q > 0 && (!best || match.q > best.q)) best = { type: candidate, q: match.q };
  }
  return best?.type;
}
