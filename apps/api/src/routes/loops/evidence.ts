import { readFile, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { loopArtifactDir } from '../../artifacts.ts';
import { apiError, errorResponses } from '../../errors.ts';
import { LOOP_ID_PATTERN, POSITIVE_INT_PATTERN } from '../../schemas.ts';
import { readStoredReport, workerLoopDir } from '../../stored-report.ts';

/** One evidence file of a cycle, as a path the artifacts route takes. */
export interface EvidenceFile {
  label: string;
  /** Relative to the loop's artifact directory: GET /v1/loops/:id/artifacts/<path>. */
  path: string;
}

interface ReportEvidence {
  evidenceFiles?: { stdout?: unknown; stderr?: unknown; junit?: unknown };
  clusters?: { fingerprint?: unknown; title?: unknown; dossier?: unknown }[];
}

/** The evidence a cycle report names, as artifact paths; anything outside the loop's directory is left out. */
export function evidenceOf(report: ReportEvidence, reportFile: string, base: string): EvidenceFile[] {
  const out: EvidenceFile[] = [{ label: 'report.json', path: reportFile }];
  const add = (label: string, p: unknown) => {
    if (typeof p === 'string' && p) out.push({ label, path: isAbsolute(p) ? p : resolve(dirname(reportFile), p) });
  };
  const ev = report.evidenceFiles ?? {};
  add('test stdout', ev.stdout);
  add('test stderr', ev.stderr);
  if (Array.isArray(ev.junit)) for (const j of ev.junit) add(`JUnit ${typeof j === 'string' ? (j.split(/[\\/]/).pop() ?? '') : ''}`, j);
  for (const c of report.clusters ?? []) add(`dossier ${typeof c.title === 'string' ? c.title : String(c.fingerprint)}`, c.dossier);
  const seen = new Set<string>();
  return out.flatMap(({ label, path }) => {
    const rel = relative(base, resolve(path));
    if (!rel || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) || seen.has(rel)) return [];
    seen.add(rel);
    return [{ label, path: rel.split(sep).join('/') }];
  });
}

/** GET /v1/loops/:id/cycles/:n/evidence: the files a cycle's report names, as links into the artifacts route. */
const evidenceRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string; n: string } }>(
    '/:id/cycles/:n/evidence',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: "The evidence files a cycle's report names (test output, JUnit, dossiers), as artifact paths",
        params: {
          type: 'object',
          required: ['id', 'n'],
          additionalProperties: false,
          properties: { id: { type: 'string', pattern: LOOP_ID_PATTERN }, n: { type: 'string', pattern: POSITIVE_INT_PATTERN } },
        },
        response: {
          200: {
            type: 'object',
            required: ['files'],
            properties: {
              files: {
                type: 'array',
                items: { type: 'object', properties: { label: { type: 'string' }, path: { type: 'string' }, href: { type: 'string' } } },
              },
            },
          },
          ...errorResponses(400, 401, 403, 404, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const n = Number(request.params.n);
      const cycle = await app.store.getCycle(id, n);
      if (!cycle) {
        if (!(await app.store.getLoop(id))) throw apiError('LOOP_NOT_FOUND', { id });
        throw apiError('CYCLE_NOT_FOUND', { id, n });
      }
      const file = cycle.report?.json;
      if (!file) throw apiError('REPORT_NOT_READY', { id, n });
      const link = (f: EvidenceFile) => ({ ...f, href: `/v1/loops/${id}/artifacts/${f.path.split('/').map(encodeURIComponent).join('/')}` });
      if (app.artifactStore.kind !== 'local') {
        // Paths are the worker's: resolved against its loop directory, read from the bucket.
        const stored = await readStoredReport(app.artifactStore, id, file);
        const base = workerLoopDir(file, id);
        if (stored === undefined || base === undefined) throw apiError('REPORT_NOT_READY', { id, n });
        let remote: ReportEvidence;
        try {
          remote = JSON.parse(stored) as ReportEvidence;
        } catch {
          throw apiError('REPORT_NOT_READY', { id, n });
        }
        return { files: evidenceOf(remote, file, base).map(link) };
      }
      let base: string;
      let real: string;
      try {
        base = await realpath(loopArtifactDir(app.greenloopEnv.home, id));
        real = await realpath(file);
      } catch {
        throw apiError('REPORT_NOT_READY', { id, n });
      }
      if (!real.startsWith(base + sep)) throw apiError('REPORT_NOT_READY', { id, n });
      let report: ReportEvidence;
      try {
        report = JSON.parse(await readFile(real, 'utf8')) as ReportEvidence;
      } catch {
        throw apiError('REPORT_NOT_READY', { id, n });
      }
      return { files: evidenceOf(report, real, base).map(link) };
    },
  );
};

export default evidenceRoutes;
