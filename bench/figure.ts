/** One benchmark figure on its own line: `figure <name> <value> <unit> <goal?>` (figures, never pass/fail). */
export function figure(name: string, value: number, unit: string, goal?: string): void {
  console.log(`figure ${name} ${value} ${unit}${goal ? ` ${goal}` : ''}`);
}
