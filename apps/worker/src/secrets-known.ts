import { addKnownSecrets, type GreenloopConfig, secretEnvNames, secretValuesOf } from '@greenloop/core';

/**
 * Registers with the redactor the values of every variable `config` names as a secret
 * (notifications' webhook URL/secret, the push token), read from greenloop's environment, and returns
 * the config. Run on every load, so a reloaded greenloop.yaml naming a new variable is covered at once.
 */
export function withSecretsKnown(config: GreenloopConfig, processEnv: Readonly<Record<string, string | undefined>>): GreenloopConfig {
  addKnownSecrets(secretValuesOf(processEnv, secretEnvNames(config)));
  return config;
}
