import { z } from 'zod';
import type { StageName, StageRecord } from './domain.ts';
import { GreenloopError } from './errors.ts';
import type { JobName } from './jobs.ts';
import { AnalyzeStageResultSchema, DeployResultSchema, FixStageResultSchema, IntegrateResultSchema, TestRunResultSchema } from './stage-results.ts';

/**
 * The stage table: for each stage of a cycle, the job that runs it, the schema of its result and the
 * one job that writes its record (`owner`). Everything typed by stage name derives from here; a stage
 * record is parsed against it on every read (LoopStore.getStage), so no caller casts a result.
 *
 * The fix stage is the controller's own step: it fans out one `stage.fix` job per cluster, each of which
 * writes only its own outcome (LoopStore.putFixOutcome), and gathers them into the stage record. One
 * exception to ownership, by design: when a loop ends, the controller closes any record still `running`
 * (cancelled or abandoned), and a terminal record is never rewritten (LoopStore.saveStage), so that late
 * word cannot be contradicted by an attempt that outlived the loop.
 */
export const StageTable = {
  deploy: { job: 'stage.deploy', result: DeployResultSchema, owner: 'stage.deploy' },
  test: { job: 'stage.test', result: TestRunResultSchema, owner: 'stage.test' },
  analyze: { job: 'stage.analyze', result: AnalyzeStageResultSchema, owner: 'stage.analyze' },
  fix: { job: 'stage.fix', result: FixStageResultSchema, owner: 'loop.run' },
  integrate: { job: 'stage.integrate', result: IntegrateResultSchema, owner: 'stage.integrate' },
} as const satisfies Record<StageName, { job: JobName; result: z.ZodType; owner: JobName }>;

/**
 * What one attempt of a stage job hands back: its result and a one-line summary. A retry that adopts
 * the output of an earlier attempt (the worker's owned attempts) parses it with this schema.
 */
export function stageOutputSchema<S extends StageName>(stage: S) {
  // Annotated, the schema keeps its stage's type instead of widening to the union of the table's schemas.
  const result: (typeof StageTable)[S]['result'] = StageTable[stage].result;
  return z.object({ result, summary: z.string() });
}

/**
 * What one fixer (a `stage.fix` job) and one shard (a `stage.test-shard` job) hand back, each kept by its
 * own writer, and the per-test statuses the analyze stage keeps in a file.
 */
export { FixResultSchema, ShardSummarySchema, TestStatusesSchema } from './stage-results.ts';

/** The result type of a stage, from its schema. */
export type StageResult<S extends StageName> = z.output<(typeof StageTable)[S]['result']>;
/** A stage record typed by its stage name. */
export type TypedStageRecord<S extends StageName> = StageRecord<StageResult<S>>;
/** A cycle's stage records, each typed by its name. */
export type StageRecords = { [S in StageName]?: TypedStageRecord<S> };

/** Puts a record into a cycle's stage map under its own name. */
export function putStageRecord<S extends StageName>(stages: StageRecords, stage: S, record: TypedStageRecord<S>): void {
  // TypeScript cannot write a mapped type through a generic key; the key and the record agree by signature.
  (stages as Record<S, TypedStageRecord<S>>)[stage] = record;
}

/** Stages that run as one job of their own (the fix stage is the controller's fan-out). */
export type JobStage = { [S in StageName]: (typeof StageTable)[S]['owner'] extends 'loop.run' ? never : S }[StageName];

const StageRecordSchema = z.object({
  stage: z.enum(['deploy', 'test', 'analyze', 'fix', 'integrate']),
  status: z.enum(['running', 'succeeded', 'failed', 'cancelled', 'skipped']),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  attempts: z.number().int(),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional(), details: z.record(z.string(), z.unknown()).optional() }).optional(),
  summary: z.string().optional(),
});

/**
 * A stored stage record (without its result) and its result, parsed. A succeeded record whose result
 * does not match the stage's schema is an error naming the fields at fault; another status keeps a
 * result only if it matches (records before details moved to `error.details` carried `{ details }`).
 */
export function parseStageRecord<S extends StageName>(stage: S, where: string, record: unknown, result: unknown): StageRecord<StageResult<S>> {
  const base = StageRecordSchema.safeParse(record);
  if (!base.success || base.data.stage !== stage) throw invalid(stage, where, base.success ? `stage is "${base.data.stage}"` : z.prettifyError(base.error));
  const parsed: StageRecord<StageResult<S>> = { ...base.data, stage } as StageRecord<StageResult<S>>;
  if (result === undefined) return parsed;
  const r = StageTable[stage].result.safeParse(result);
  if (r.success) parsed.result = r.data as StageResult<S>;
  else if (base.data.status === 'succeeded') throw invalid(stage, where, z.prettifyError(r.error));
  return parsed;
}

function invalid(stage: StageName, where: string, issues: string): GreenloopError {
  return new GreenloopError('STAGE_RECORD_INVALID', `the ${stage} record of ${where} does not match its schema: ${issues}`, {
    hint: 'the record was written by another greenloop version or edited by hand; rerun the loop',
  });
}
