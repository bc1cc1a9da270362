import { CONFIG_FILE, ConfigError, type GreenloopConfig, parseConfigText } from '@greenloop/core';
import { gitExec } from './git/repo.ts';

/** How many commits' configs stay parsed: a worker runs a few loops at a time, each on one base commit. */
export const CONFIG_CACHE_SIZE = 32;

/**
 * greenloop.yaml as committed at a commit of a repository, parsed and validated, cached per commit (least
 * recently used of `size` dropped). Keyed by the commit alone, whichever repository it is read from: a
 * commit id names its content, so its file is the same in the installation's repository and in every
 * project mirror. An invalid config stays cached as the same ConfigError; a git failure (not a config
 * problem: the commit is not in that repository) is not cached and is tried again.
 * `onLoad` sees every config parsed (the worker registers the secrets it names with the redactor).
 */
export function createCommitConfigLoader(
  onLoad: (config: GreenloopConfig) => void = () => {},
  size = CONFIG_CACHE_SIZE,
): (repo: string, commit: string) => Promise<GreenloopConfig> {
  const cache = new Map<string, Promise<GreenloopConfig>>();
  return async (repo, commit) => {
    let config = cache.get(commit);
    if (config) {
      // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
      cache.delete(commit);
      cache.set(commit, config);
      return await config;
    }
    config = readAtCommit(repo, commit).then((c) => {
      onLoad(c);
      return c;
    });
    cache.set(commit, config);
    if (cache.size > size) cache.delete(cache.keys().next().value as string);
    config.catch((err: unknown) => {
      if (!(err instanceof ConfigError) && cache.get(commit) === config) cache.delete(commit);
    });
    return await config;
  };
}

async function readAtCommit(repo: string, commit: string): Promise<GreenloopConfig> {
  const source = `${CONFIG_FILE} at commit ${commit.slice(0, 12)}`;
  let text: string;
  try {
    // cat-file, not show: the blob's bytes, never a textconv filter the repository's attributes name.
    text = await gitExec(repo, ['cat-file', 'blob', `${commit}:${CONFIG_FILE}`]);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    // git says the same of a commit it does not have (a full hash is taken on trust): told apart here.
    if (/does not exist in|exists on disk, but not in/.test(stderr) && (await hasCommit(repo, commit))) {
      throw new ConfigError(`${source} does not exist`, [], `commit a ${CONFIG_FILE} at the repository root; a loop reads the one of the commit it starts at`);
    }
    throw new Error(`cannot read ${source} from ${repo}: ${stderr.trim() || (err as Error).message}`);
  }
  return parseConfigText(text, source);
}

async function hasCommit(repo: string, commit: string): Promise<boolean> {
  return await gitExec(repo, ['cat-file', '-e', `${commit}^{commit}`]).then(
    () => true,
    () => false,
  );
}
