import { join } from 'node:path';

/**
 * What a sandboxed build or deploy command may read although it lies in a hidden place (greenloop's home,
 * its OS user's HOME): exactly the credentials the cloud tools need, named by the command's environment —
 * the gcloud config directory, the Application Default Credentials file, the Docker config directory —
 * or, when a variable is unset, the tool's default place under HOME (`~/.config/gcloud`, `~/.docker`).
 * Bound read-only: a command from the branch can use them but not rewrite them.
 */
export function deployCredentialPaths(env: Readonly<Record<string, string | undefined>>): string[] {
  const home = env.HOME;
  const paths = [
    env.CLOUDSDK_CONFIG ?? (home ? join(home, '.config', 'gcloud') : undefined),
    env.GOOGLE_APPLICATION_CREDENTIALS,
    env.DOCKER_CONFIG ?? (home ? join(home, '.docker') : undefined),
  ];
  return paths.filter((p): p is string => typeof p === 'string' && p.length > 0);
}
