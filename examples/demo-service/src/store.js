// In-memory state. Every process start begins from the same seed, so each
// greenloop cycle tests a freshly deployed service.
import { randomUUID } from 'node:crypto';

export function newId(prefix) {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

const bootTime = new Date().toISOString();

/** Services advertised by the discovery endpoint. */
export const services = [
  { name: 'agents', kind: 'http', path: '/api/agents', description: 'Agent catalog and sessions' },
  { name: 'threads', kind: 'http', path: '/api/threads', description: 'Conversation threads' },
  { name: 'chat', kind: 'http', path: '/api/chat/messages', description: 'Authenticated chat', auth: 'bearer' },
  { name: 'realtime', kind: 'websocket', path: '/ws', description: 'Realtime echo channel' },
];

/** @type {Map<string, { id: string, name: string, model: string, description: string }>} */
export const agents = new Map(
  [
    { id: 'researcher', name: 'Researcher', model: 'demo-large', description: 'Finds and summarises sources' },
    { id: 'coder', name: 'Coder', model: 'demo-large', description: 'Writes and reviews code' },
    { id: 'triager', name: 'Triager', model: 'demo-small', description: 'Sorts incoming issues' },
  ].map((agent) => [agent.id, agent]),
);

/** Running and stopped agent sessions; `startedAt` and `stoppedAt` are ISO strings. */
export const sessions = new Map();

/** Threads with their messages. */
export const threads = new Map([
  [
    'thr_welcome',
    {
      id: 'thr_welcome',
      title: 'Welcome',
      createdAt: bootTime,
      messages: [{ id: 'msg_welcome', role: 'assistant', author: 'system', text: 'Hi! Ask me anything.', createdAt: bootTime }],
    },
  ],
]);
