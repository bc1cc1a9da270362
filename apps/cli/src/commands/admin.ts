import type { ScheduleInfo, TokenInfo } from '@greenloop/core';
import { EXIT, type Io, UsageError } from '../io.ts';
import { table } from '../render.ts';

/** `greenloop schedules [list [--env E]] | add <environment> <name> "<cron>" [--tz Zone] | rm <id>` */
export async function schedulesCommand(io: Io, args: string[], flags: { json: boolean; env?: string; tz?: string }): Promise<number> {
  const [sub = 'list', ...rest] = args;
  const p = io.paint;
  switch (sub) {
    case 'list': {
      if (rest.length) throw new UsageError('usage: greenloop schedules list [--env <environment>]');
      const q = flags.env ? `?environment=${encodeURIComponent(flags.env)}` : '';
      const { schedules } = await io.api.get<{ schedules: ScheduleInfo[] }>(`/v1/schedules${q}`);
      if (flags.json) io.out(JSON.stringify(schedules, null, 2));
      else if (!schedules.length) io.out(p.dim('no schedules'));
      else
        io.out(
          table(
            p,
            ['ID', 'CRON', 'TIME ZONE', 'NEXT RUN', 'SOURCE'],
            schedules.map((s) => [s.id, s.cron, s.timezone, s.next ?? s.nextRuns[0] ?? '', s.source]),
          ),
        );
      return EXIT.ok;
    }
    case 'add': {
      const [environment, name, cron, ...extra] = rest;
      if (!environment || !name || !cron || extra.length) {
        throw new UsageError(
          'usage: greenloop schedules add <environment> <name> "<cron>" [--tz <IANA zone>]   e.g. schedules add staging nightly "0 3 * * 1-5" --tz Europe/Berlin',
        );
      }
      const { body } = await io.api.json<ScheduleInfo>('POST', '/v1/schedules', {
        body: { environment, name, cron, ...(flags.tz ? { timezone: flags.tz } : {}) },
      });
      if (flags.json) io.out(JSON.stringify(body, null, 2));
      else {
        io.out(`schedule ${p.bold(body.id)} created: "${body.cron}" in ${body.timezone}`);
        io.out(`  next runs: ${body.nextRuns.join(', ')}`);
      }
      return EXIT.ok;
    }
    case 'rm':
    case 'remove':
    case 'delete': {
      const [id, ...extra] = rest;
      if (!id || extra.length) throw new UsageError('usage: greenloop schedules rm <environment>.<name>');
      await io.api.json('DELETE', `/v1/schedules/${encodeURIComponent(id)}`);
      io.out(`schedule ${id} deleted`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown schedules command "${sub}"; use list, add or rm`);
  }
}

/** `greenloop tokens [list] | create <name> --role <role> [--expires-days N] | revoke <id>` */
export async function tokensCommand(io: Io, args: string[], flags: { json: boolean; role?: string; expiresDays?: string }): Promise<number> {
  const [sub = 'list', ...rest] = args;
  const p = io.paint;
  switch (sub) {
    case 'list': {
      const { tokens } = await io.api.get<{ tokens: TokenInfo[] }>('/v1/tokens');
      if (flags.json) io.out(JSON.stringify(tokens, null, 2));
      else if (!tokens.length) io.out(p.dim('no tokens (the bootstrap token from GREENLOOP_API_TOKEN is not listed)'));
      else
        io.out(
          table(
            p,
            ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'EXPIRES'],
            tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.createdBy, t.expiresAt ?? 'never']),
          ),
        );
      return EXIT.ok;
    }
    case 'create': {
      const [name, ...extra] = rest;
      if (!name || extra.length || !flags.role) throw new UsageError('usage: greenloop tokens create <name> --role viewer|operator|admin [--expires-days N]');
      if (flags.expiresDays !== undefined && !/^[1-9][0-9]{0,3}$/.test(flags.expiresDays))
        throw new UsageError('--expires-days must be a whole number of days');
      const body = { name, role: flags.role, ...(flags.expiresDays ? { expiresInDays: Number(flags.expiresDays) } : {}) };
      const { body: created } = await io.api.json<TokenInfo & { token: string }>('POST', '/v1/tokens', { body });
      // The one place a token is ever printed: right after it was made, because it cannot be shown again.
      if (flags.json) io.out(JSON.stringify(created, null, 2));
      else {
        io.out(`token ${p.bold(created.name)} (${created.role}, id ${created.id}) — shown once, store it now:`);
        io.out(created.token);
        io.out(p.dim(`  use it:  export GREENLOOP_API_TOKEN=<the token above>`));
      }
      return EXIT.ok;
    }
    case 'revoke': {
      const [id, ...extra] = rest;
      if (!id || extra.length) throw new UsageError('usage: greenloop tokens revoke <id>');
      const { body } = await io.api.json<TokenInfo>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      io.out(`token ${body.name} (${id}) revoked`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown tokens command "${sub}"; use list, create or revoke`);
  }
}
