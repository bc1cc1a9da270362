import { copyFile, readFile, writeFile } from 'node:fs/promises';

// pytest interrupted mid-test writes that test as `<testcase time="0.000" />`: no name, no classname,
// no outcome. Read as is it would count as a passed test with an empty name.
const NAMELESS = /<testcase\b(?![^>]*\bname\s*=)[^>]*\/>/g;

/**
 * Drops the nameless testcases an interrupted runner wrote for the test it was stopped in, so that test
 * counts as not run rather than passed. The file as written is kept beside it (`.as-written`) as evidence.
 * Returns how many were dropped.
 */
export async function dropInterruptedTestcases(file: string): Promise<number> {
  const xml = await readFile(file, 'utf8').catch(() => undefined);
  if (xml === undefined) return 0;
  const dropped = xml.match(NAMELESS)?.length ?? 0;
  if (dropped === 0) return 0;
  await copyFile(file, `${file}.as-written`);
  await writeFile(file, xml.replace(NAMELESS, ''));
  return dropped;
}
