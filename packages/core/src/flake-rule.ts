/**
 * When a test counts as known flaky: the worker then labels a failure on its only rerun flaky too (never
 * sent to a fixer), and the dashboard shows it as quarantined. One rule for both, so they cannot disagree.
 */

/** A test is known flaky when it flaked in at least this many earlier cycles… */
export const KNOWN_FLAKY_MIN_FLAKES = 2;
/** …and flakes make at least this share of its recorded failures. */
export const KNOWN_FLAKY_MIN_SHARE = 0.3;

/** Whether a test with this many flaky and real-failure cycles is known flaky. */
export function isKnownFlaky(stats: { flakes: number; failures: number } | undefined): boolean {
  if (!stats || stats.flakes === 0) return false;
  return stats.flakes >= KNOWN_FLAKY_MIN_FLAKES && stats.flakes / (stats.flakes + stats.failures) >= KNOWN_FLAKY_MIN_SHARE;
}
