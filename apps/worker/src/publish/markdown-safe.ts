import { redact } from '@greenloop/core';
import { truncate } from '../notify/mrkdwn.ts';

/**
 * Free text that reaches a pull request (test names, cluster titles, failure reasons) is written by
 * tests and services, which an attacker may control. GitHub renders it as GitHub-flavoured markdown and
 * then links mentions, issue references and bare URLs, so escaping markdown alone is not enough:
 * `@org/team` would notify a team and `https://evil` would become a link.
 */

const ZWSP = '\u200b';

/**
 * One line of untrusted text, safe as markdown inline content (also in a table cell): redacted, on one
 * line, capped at `maxChars`, every character that can open markdown inline syntax backslash-escaped
 * (links, images, emphasis, code, HTML, entities, tables, headings, math), and a zero-width space after
 * `@`, inside `://` and `www.`, and before the number of `#123` / `GH-123` (and GitLab's `!12`, `~label`,
 * `%milestone`, `$12`, `&12`), so neither host links a mention, reference or URL.
 */
export function inlineText(text: string, maxChars = 300): string {
  const flat = truncate(redact(text).replace(/\s+/g, ' ').trim(), maxChars);
  const defused = flat
    .replace(/@/g, `@${ZWSP}`)
    .replace(/:\/\//g, `:${ZWSP}//`)
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`)
    .replace(/#(?=\d)/g, `#${ZWSP}`)
    .replace(/\bGH-(?=\d)/gi, (m) => `${m}${ZWSP}`)
    // GitLab's references: !12 merge requests, ~label, %milestone, $12 snippets, &12 epics.
    .replace(/([!~%$&])(?=[\w"])/g, `$1${ZWSP}`);
  return defused.replace(/[\\`*_[\]()<>!|~&#${}]/g, (c) => `\\${c}`);
}

/** Inline code for text greenloop produced itself (commit ids, branch names, commands): no escaping needed inside. */
export function codeSpan(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${flat} ${fence}` : `${fence}${flat}${fence}`;
}

/** A link whose label is untrusted text and whose URL greenloop built; the URL's `(`, `)` and spaces are percent-encoded. */
export function link(label: string, url: string): string {
  return `[${inlineText(label)}](${url.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)})`;
}
