import type { ProjectRecord } from '@greenloop/core';
import { EXIT, type Io, UsageError } from '../io.ts';
import { type Paint, table } from '../render.ts';

export interface ProjectFlags {
  json: boolean;
  remote?: string;
  baseBranch?: string;
  credentialsSecret?: string;
  /** `set --no-credentials-secret`: the project's remote needs no credentials any more. */
  noCredentialsSecret?: boolean;
}

const USAGE = {
  list: 'greenloop projects list',
  add: 'greenloop projects add <name> --remote <url> [--base-branch <branch>] [--credentials-secret <VAR>]',
  show: 'greenloop projects show <name>',
  set: 'greenloop projects set <name> [--remote <url>] [--base-branch <branch>] [--credentials-secret <VAR> | --no-credentials-secret]',
  remove: 'greenloop projects remove <name>',
} as const;

function nameArg(rest: string[], sub: keyof typeof USAGE): string {
  const [name, ...extra] = rest;
  if (!name || extra.length) throw new UsageError(`usage: ${USAGE[sub]}`);
  return name;
}

function projectPath(name: string): string {
  return `/v1/projects/${encodeURIComponent(name)}`;
}

function describeProject(p: Paint, project: ProjectRecord): string {
  return [
    `project ${p.bold(project.name)}`,
    `  remote              ${project.remote}`,
    `  base branch         ${project.baseBranch}`,
    `  credentials secret  ${project.credentialsSecret ?? p.dim('none (the remote needs no credentials)')}`,
    `  created             ${project.createdAt} by ${project.createdBy}`,
    `  updated             ${project.updatedAt}`,
    p.dim(`  start a loop:  greenloop start ${project.name}/<environment>`),
  ].join('\n');
}

/**
 * `greenloop projects list | add <name> --remote URL [...] | show <name> | set <name> [...] | remove <name>`:
 * the repositories the installation serves besides its own, each addressed as `<project>/<environment>`.
 */
export async function projectsCommand(io: Io, args: string[], flags: ProjectFlags): Promise<number> {
  const [sub = 'list', ...rest] = args;
  const p = io.paint;
  const print = (project: ProjectRecord, line: string) => io.out(flags.json ? JSON.stringify(project, null, 2) : line);
  switch (sub) {
    case 'list': {
      if (rest.length) throw new UsageError(`usage: ${USAGE.list}`);
      const { projects } = await io.api.get<{ projects: ProjectRecord[] }>('/v1/projects');
      if (flags.json) io.out(JSON.stringify(projects, null, 2));
      else if (!projects.length) io.out(p.dim('no projects (loops run on GREENLOOP_REPO only); add one with: greenloop projects add <name> --remote <url>'));
      else
        io.out(
          table(
            p,
            ['NAME', 'REMOTE', 'BASE BRANCH', 'CREDENTIALS SECRET', 'CREATED BY'],
            projects.map((x) => [x.name, x.remote, x.baseBranch, x.credentialsSecret ?? '—', x.createdBy]),
          ),
        );
      return EXIT.ok;
    }
    case 'add': {
      const name = nameArg(rest, 'add');
      if (!flags.remote) throw new UsageError(`--remote is required; usage: ${USAGE.add}`);
      if (flags.noCredentialsSecret) throw new UsageError('--no-credentials-secret is for `projects set`; leave --credentials-secret out instead');
      const body = {
        name,
        remote: flags.remote,
        ...(flags.baseBranch ? { baseBranch: flags.baseBranch } : {}),
        ...(flags.credentialsSecret ? { credentialsSecret: flags.credentialsSecret } : {}),
      };
      const { body: created } = await io.api.json<ProjectRecord>('POST', '/v1/projects', { body });
      print(created, describeProject(p, created));
      return EXIT.ok;
    }
    case 'show': {
      const project = await io.api.get<ProjectRecord>(projectPath(nameArg(rest, 'show')));
      print(project, describeProject(p, project));
      return EXIT.ok;
    }
    case 'set': {
      const name = nameArg(rest, 'set');
      if (flags.credentialsSecret && flags.noCredentialsSecret) throw new UsageError('give --credentials-secret or --no-credentials-secret, not both');
      const body = {
        ...(flags.remote ? { remote: flags.remote } : {}),
        ...(flags.baseBranch ? { baseBranch: flags.baseBranch } : {}),
        ...(flags.credentialsSecret ? { credentialsSecret: flags.credentialsSecret } : {}),
        ...(flags.noCredentialsSecret ? { credentialsSecret: null } : {}),
      };
      if (!Object.keys(body).length) throw new UsageError(`nothing to change; usage: ${USAGE.set}`);
      const { body: updated } = await io.api.json<ProjectRecord>('PATCH', projectPath(name), { body });
      print(updated, `${describeProject(p, updated)}\n${p.dim('  loops already started keep the settings they started with')}`);
      return EXIT.ok;
    }
    case 'remove':
    case 'rm': {
      const name = nameArg(rest, 'remove');
      await io.api.json('DELETE', projectPath(name));
      io.out(`project ${name} removed`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown projects command "${sub}"; use list, add, show, set or remove`);
  }
}
