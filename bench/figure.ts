// One measured figure per call: printed at once as `figure <name> <value> <unit> <goal>` and kept, so
// bench/run.ts can print every figure again as the closing summary and write them with `--json <file>`.
// A figure is never judged here: the goal is printed next to the value for the reader (and for scripts
// that compare runs), never turned into a pass/fail.

/** One recorded figure, as written by `npm run bench -- --json <file>`. */
export interface Figure {
  /** Dotted, space-free name, e.g. `cycle.floor` or `scale.50.stalled`. */
  name: string;
  value: number;
  /** Space-free unit, e.g. `ratio`, `ms`, `MB`, `jobs`, `loops/min`. */
  unit: string;
  /** The goal as printed, e.g. `goal<=1.05` (or a note, e.g. `(not green: max-cycles)`); absent when none. */
  goal?: string;
}

const recorded: Figure[] = [];

/** Rounds for printing: 3 significant decimals below 10, one below 1000, none above; integers stay exact. */
function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs < 10 ? 3 : abs < 1000 ? 1 : 0;
  return String(Number(value.toFixed(digits)));
}

function checkWord(what: string, s: string, figureName: string): void {
  if (!s || /\s/.test(s)) throw new Error(`figure ${JSON.stringify(figureName)}: ${what} ${JSON.stringify(s)} must be one non-empty word (no spaces)`);
}

/** The summary line for one figure: `figure <name> <value> <unit>[ <goal>]`. */
export function figureLine(f: Figure): string {
  return ['figure', f.name, formatValue(f.value), f.unit, ...(f.goal ? [f.goal] : [])].join(' ');
}

/**
 * Records and prints one figure. A `goal` that starts with a comparison (`<=1.05`, `>=0.6`) is printed as
 * `goal<=1.05`; one that already starts with `goal` as given; anything else (a note such as
 * `(not green: max-cycles)`) verbatim after the unit. Name and unit are single words, so the first four
 * fields of every line parse the same way. Throws on a non-finite value or a name or unit with spaces, so a
 * broken measurement says so instead of printing `NaN` into the summary.
 */
export function figure(name: string, value: number, unit: string, goal?: string): void {
  checkWord('name', name, name);
  checkWord('unit', unit, name);
  if (!Number.isFinite(value)) throw new Error(`figure ${name}: value ${value} is not a finite number; the measurement behind it failed`);
  const g = goal?.trim() ? (/^[<>=≤≥]/.test(goal.trim()) ? `goal${goal.trim()}` : goal.trim()) : undefined;
  const f: Figure = { name, value: Number(formatValue(value)), unit, ...(g ? { goal: g } : {}) };
  recorded.push(f);
  console.log(figureLine(f));
}

/** Every figure recorded so far in this process, in the order they were measured. */
export function recordedFigures(): readonly Figure[] {
  return recorded;
}
