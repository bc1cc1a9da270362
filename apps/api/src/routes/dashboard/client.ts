import { API_JS } from './client/api.ts';
import { BASICS_JS } from './client/basics.ts';
import { EVENTS_JS } from './client/events.ts';
import { INSIGHTS_JS } from './client/insights.ts';
import { LOOP_VIEW_JS } from './client/loop-view.ts';
import { LOOPS_JS } from './client/loops.ts';
import { REPORT_JS } from './client/report.ts';
import { SCHEDULES_JS } from './client/schedules.ts';
import { SESSION_JS } from './client/session.ts';
import { WIRING_JS } from './client/wiring.ts';

/**
 * The dashboard's script, served as-is (no build step). Vanilla JS for current browsers, written in parts
 * (client/*.ts, one per concern) that share one function scope: they are joined, in order, inside one
 * IIFE here. Every value from the API reaches the DOM through textContent or attributes set by code,
 * never as HTML — with one exception: a cycle report's markdown, rendered by markdown-it (raw HTML off)
 * and then sanitized by DOMPurify into a DOM fragment (no HTML string is ever assigned to the page). The
 * token lives in sessionStorage and only ever travels in the Authorization header.
 *
 * Each part is kept in String.raw so the JS source is byte for byte what is written there; none may
 * contain backticks or a dollar sign followed by a brace.
 */
export const DASHBOARD_JS = `'use strict';\n(function () {\n${[BASICS_JS, API_JS, SESSION_JS, LOOPS_JS, LOOP_VIEW_JS, REPORT_JS, INSIGHTS_JS, SCHEDULES_JS, EVENTS_JS, WIRING_JS].join('\n')}\n})();\n`;
