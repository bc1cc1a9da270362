#!/usr/bin/env node
import { runCli } from './cli.ts';

/** The `greenloop` executable: wires the process (argv, env, streams, signals) to runCli. */
export async function main(): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    // First Ctrl-C: stop cleanly (up shuts down, --wait detaches). Second: leave at once.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runCli({
      argv: process.argv.slice(2),
      processEnv: { ...process.env },
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      isTTY: process.stdout.isTTY === true,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (import.meta.main) process.exitCode = await main();
