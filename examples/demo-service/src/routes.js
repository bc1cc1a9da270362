import * as agents from './handlers/agents.js';
import * as chat from './handlers/chat.js';
import * as discovery from './handlers/discovery.js';
import { health } from './handlers/health.js';
import * as threads from './handlers/threads.js';

/** @type {Array<[string, string, import('./router.js').Handler]>} */
export const routes = [
  ['GET', '/healthz', health],

  ['GET', '/api/discovery/services', discovery.listServices],
  ['GET', '/api/discovery/services/:name', discovery.getService],

  ['GET', '/api/agents', agents.listAgents],
  ['GET', '/api/agents/sessions', agents.listSessions],
  ['GET', '/api/agents/:id', agents.getAgent],
  ['POST', '/api/agents/stop', agents.stopAgent],

  ['GET', '/api/threads', threads.listThreads],
  ['POST', '/api/threads', threads.createThread],
  ['GET', '/api/threads/:id', threads.getThread],
  ['DELETE', '/api/threads/:id', threads.deleteThread],
  ['POST', '/api/threads/:id/messages', threads.postThreadMessage],

  ['GET', '/api/chat/messages', chat.listChatMessages],
  ['POST', '/api/chat/messages', chat.postChatMessage],
];
