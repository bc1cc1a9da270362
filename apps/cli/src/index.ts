export { HELP, type RunOptions, runCli } from './cli.ts';
export { type CliEnv, readCliEnv } from './cli-env.ts';
export { ApiClient, ApiRequestError, ApiUnreachableError } from './client.ts';
export { EXIT, exitCodeFor } from './io.ts';
export { followEvents } from './sse.ts';
