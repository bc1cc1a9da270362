import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, loadConfig } from '@greenloop/core';
import { EXIT, type Io, UsageError } from '../io.ts';
import { type DetectedStack, detectStack } from './detect-stack.ts';

const yamlString = (s: string) => JSON.stringify(s);
const yamlList = (xs: readonly string[]) => `[${xs.map(yamlString).join(', ')}]`;

/** A commented greenloop.yaml for what was detected; every value is one the schema accepts. */
export function renderInitConfig(d: DetectedStack, environment: string): string {
  const envLines = Object.entries(d.tests.env ?? {}).map(([k, v]) => `        ${k}: ${yamlString(v)}`);
  const lines = [
    `# greenloop.yaml — written by \`greenloop init\` for a ${d.stack} project (${d.evidence.join('; ')}).`,
    '# Check the commands below, then run `greenloop doctor` to try them once: it deploys, checks the health',
    '# path, runs the suite and reads the logs back, and says what is wired and what is not.',
    '# Editors: the JSON Schema is packages/core/greenloop.schema.json in greenloop.',
    'version: 1',
    'environments:',
    `  ${environment}:`,
    '    services:',
    `      - name: ${d.serviceName}`,
    d.healthPathGuessed
      ? '        # No health endpoint found in the code: greenloop polls this path until it answers 2xx (any 2xx page works).'
      : '        # Found in the code: greenloop polls this path until it answers 2xx after each deploy.',
    `        healthPath: ${d.healthPath}`,
    '        deploy:',
    "          # local: greenloop runs the service as a child process from a checkout of the loop's commit. It sets",
    '          # PORT: the service must listen on it (127.0.0.1). Its stdout/stderr are the logs greenloop reads.',
    '          provider: local',
    `          command: ${yamlList(d.start)}`,
    '          readyTimeout: 30s',
    '    tests:',
    "      # The suite gets each service's URL as GREENLOOP_URL_<SERVICE>, or map it to your own variable in env",
    `      # below with {{url.${d.serviceName}}}. It must write JUnit XML where \`junit\` points ({{artifacts}} is the run's directory).`,
    ...(d.tests.note ? [`      # Note: ${d.tests.note}.`] : []),
    `      command: ${yamlList(d.tests.command)}`,
    `      junit: ${yamlList(d.tests.junit)}`,
    '      timeout: 10m',
    '      env:',
    `        BASE_URL: ${yamlString(`{{url.${d.serviceName}}}`)}`,
    ...envLines,
    ...(d.tests.rerunPreset
      ? [
          '      # Failed tests are rerun (up to twice) to tell flaky from broken, in the form this runner accepts.',
          `      rerun: { preset: ${d.tests.rerunPreset} }`,
        ]
      : []),
    "    # Server logs: local reads the services' output (JSON lines, logfmt or plain text with timestamps).",
    '    logs: { provider: local }',
    '    # The fixer: any command that edits the checkout for one failure cluster (an AI coding agent CLI or a',
    '    # script). {{promptFile}} holds the evidence. Uncomment and set it to let greenloop fix failures.',
    '    # fixer:',
    '    #   command: ["your-agent", "--prompt-file", "{{promptFile}}"]',
    '    #   timeout: 30m',
    '    loop: { maxCycles: 5, maxDuration: 1h, noProgressCycles: 2 }',
    '',
  ];
  return lines.join('\n');
}

/**
 * `greenloop init [--env <name>] [--force]`: detects the stack in the current directory and writes a
 * commented greenloop.yaml, validated with the same loader the server uses before it is kept.
 */
export async function initCommand(io: Io, args: string[], opts: { env?: string; force?: boolean; cwd: string }): Promise<number> {
  if (args.length > 0) throw new UsageError('init takes no arguments (it looks at the current directory)');
  const environment = opts.env ?? 'staging';
  if (!/^[a-z][a-z0-9-]*$/.test(environment)) throw new UsageError(`--env: "${environment}" is not a valid environment name (lowercase letters, digits, -)`);
  const file = join(opts.cwd, CONFIG_FILE);
  if (existsSync(file) && !opts.force) {
    io.err(`${CONFIG_FILE} already exists here; \`greenloop doctor\` checks it, --force overwrites it`);
    return EXIT.error;
  }
  const detected = await detectStack(opts.cwd);
  if (!detected) {
    io.err('nothing greenloop knows here: no package.json, pyproject.toml/requirements.txt, go.mod, Gemfile or pom.xml');
    io.err("run `greenloop init` at the root of the service's repository");
    return EXIT.error;
  }
  await writeFile(file, renderInitConfig(detected, environment));
  // The file must load as the server will load it; a failure here is greenloop's bug, said as such.
  try {
    await loadConfig(file);
  } catch (err) {
    io.err(`greenloop wrote a ${CONFIG_FILE} it cannot load (a bug in init): ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.error;
  }
  const p = io.paint;
  io.out(`${p.green('wrote')} ${file}`);
  io.out(`  stack: ${detected.stack} (${detected.evidence.join('; ')})`);
  io.out(`  service ${detected.serviceName}: ${detected.start.join(' ')}`);
  io.out(`  health path: ${detected.healthPath}${detected.healthPathGuessed ? p.yellow(' (guessed: no health route found in the code)') : ''}`);
  io.out(`  suite: ${detected.tests.command.join(' ')}`);
  if (detected.tests.note) io.out(p.yellow(`  ${detected.tests.note}`));
  io.out(`next: \`greenloop doctor ${environment}\` deploys once, runs the suite once and says what is wired`);
  io.out(`then commit ${CONFIG_FILE}: a loop runs with the file as committed at the commit it starts at`);
  if (!ignoresHome(opts.cwd)) io.out("and keep greenloop's home out of git: `echo .greenloop/ >> .gitignore` (`greenloop up` keeps evidence there)");
  return EXIT.ok;
}

/** Whether the project's .gitignore already leaves out `.greenloop`, the default GREENLOOP_HOME. */
function ignoresHome(cwd: string): boolean {
  const file = join(cwd, '.gitignore');
  if (!existsSync(file)) return false;
  return readFileSync(file, 'utf8')
    .split('\n')
    .some((l) => /^\/?\.greenloop\/?\s*$/.test(l.trim()));
}
