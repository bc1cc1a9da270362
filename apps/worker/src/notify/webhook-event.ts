import type { Actor, AnalyzeResult, ClusterStatus, CycleRecord, LoopRecord, LoopState, StopReason, TestTotals } from '@greenloop/core';
import { redact } from '@greenloop/core';
import { loopUrl, reportUrl } from './messages.ts';
import { truncate } from './mrkdwn.ts';

/** The JSON body of a generic webhook notification. Built from records only; free text is redacted. */
export interface WebhookEvent {
  type: 'loop.started' | 'cycle.finished' | 'loop.finished';
  loop: {
    id: string;
    environment: string;
    state: LoopState;
    cycle: number;
    startedBy: Actor;
    url: string;
    branch?: string;
    commit?: string;
    stop?: StopReason;
    latest?: TestTotals;
    /** loop.finished: clusters still failing that greenloop left to a person, and why. */
    leftToAPerson?: { fingerprint: string; reason: string }[];
  };
  cycle?: {
    n: number;
    commit: string;
    green: boolean;
    totals?: TestTotals;
    reportUrl: string;
    real?: boolean;
    realnessReasons?: string[];
    /** New and regressed clusters, at most {@link MAX_CLUSTERS}; `moreClusters` counts the rest. */
    clusters: { fingerprint: string; title: string; triage: string; status: ClusterStatus; tests: number }[];
    moreClusters: number;
    persisting: number;
    fixed: string[];
  };
}

/** Receivers get the gist; the full lists are one GET away at the report URL. */
export const MAX_CLUSTERS = 50;

/** The event for a notification kind. */
export function webhookEvent(input: {
  kind: 'loop-started' | 'cycle-finished' | 'loop-finished';
  loop: LoopRecord;
  cycle?: CycleRecord;
  analyze?: AnalyzeResult;
  leftToAPerson?: { fingerprint: string; reason: string }[];
  baseUrl: string;
}): WebhookEvent {
  const { loop, baseUrl } = input;
  const event: WebhookEvent = {
    type: input.kind === 'loop-started' ? 'loop.started' : input.kind === 'cycle-finished' ? 'cycle.finished' : 'loop.finished',
    loop: {
      id: loop.id,
      environment: loop.environment,
      state: loop.state,
      cycle: loop.cycle,
      startedBy: loop.startedBy,
      url: loopUrl(baseUrl, loop.id),
      ...(loop.branch ? { branch: loop.branch } : {}),
      ...(loop.commit ? { commit: loop.commit } : {}),
      ...(loop.stop ? { stop: { ...loop.stop, message: clean(loop.stop.message, 2000) } } : {}),
      ...(loop.latest ? { latest: loop.latest } : {}),
      ...(input.kind === 'loop-finished' && input.leftToAPerson?.length
        ? { leftToAPerson: input.leftToAPerson.slice(0, MAX_CLUSTERS).map((l) => ({ fingerprint: l.fingerprint, reason: clean(l.reason, 300) })) }
        : {}),
    },
  };
  if (input.kind === 'cycle-finished' && input.cycle) {
    const { cycle, analyze } = input;
    const clusters = analyze?.clusters ?? [];
    const fresh = clusters.filter((c) => c.status !== 'persisting');
    const totals = analyze?.totals ?? cycle.totals;
    event.cycle = {
      n: cycle.n,
      commit: cycle.commit,
      green: analyze?.green ?? cycle.green ?? false,
      ...(totals ? { totals } : {}),
      reportUrl: reportUrl(baseUrl, loop.id, cycle.n),
      ...(analyze ? { real: analyze.realness.real, realnessReasons: analyze.realness.reasons.slice(0, 20).map((r) => clean(r, 500)) } : {}),
      clusters: fresh
        .slice(0, MAX_CLUSTERS)
        .map((c) => ({ fingerprint: c.fingerprint, title: clean(c.title, 300), triage: c.triage, status: c.status, tests: c.tests.length })),
      moreClusters: Math.max(0, fresh.length - MAX_CLUSTERS),
      persisting: clusters.length - fresh.length,
      fixed: (analyze?.fixed ?? []).slice(0, 200),
    };
  }
  return event;
}

function clean(text: string, max: number): string {
  return truncate(redact(text), max);
}
