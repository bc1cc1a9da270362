export { HELP, type RunOptions, runCli } from './cli.ts';
export { readCliEnv, type CliEnv } from './cli-env.ts';
export { ApiClient, ApiRequestError, ApiUnreachableError } from './client.ts';
export { EXIT, exitCodeFor } from './io.ts';
export { followEvents } from './sse.ts';
