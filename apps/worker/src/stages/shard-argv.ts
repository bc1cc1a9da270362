import { renderString } from '@greenloop/core';

/**
 * The suite's argv for one run: an element that is exactly `{{shardFiles}}` becomes one element per file
 * (no shell, so a file name stays one argument); inside a longer element `{{shardFiles}}` is the files
 * comma-separated. Without a file list (native sharding, or none), `{{shardFiles}}` is an error, as any
 * unknown placeholder is.
 */
export function renderSuiteArgv(command: readonly string[], values: Readonly<Record<string, string>>, files?: readonly string[]): string[] {
  const all = files ? { ...values, shardFiles: files.join(',') } : values;
  return command.flatMap((arg) => (files && /^\{\{\s*shardFiles\s*\}\}$/.test(arg) ? [...files] : [renderString(arg, all)]));
}
