import { HttpError, readJson, requireString, sendJson } from '../http-utils.js';
import { agents, newId, sessions } from '../store.js';

export function listAgents({ res }) {
  sendJson(res, 200, { agents: [...agents.values()] });
}

export function getAgent({ res, params }) {
  const agent = agents.get(params.id);
  if (!agent) throw new HttpError(404, 'not_found', `unknown agent ${params.id}`);
  sendJson(res, 200, { agent });
}

export function listSessions({ res }) {
  sendJson(res, 200, { sessions: [...sessions.values()] });
}

export async function startAgent({ req, res }) {
  const body = await readJson(req);
  const agentId = requireString(body, 'agentId');
  if (!agents.has(agentId)) throw new HttpError(404, 'not_found', `unknown agent ${agentId}`);

  const session = {
    id: newId('sess'),
    agentId,
    status: 'running',
    startedAt: new Date().toISOString(),
  };
  sessions.set(session.id, session);
  sendJson(res, 201, { session });
}

export async function stopAgent({ req, res }) {
  const body = await readJson(req);
  const sessionId = requireString(body, 'sessionId');
  const session = sessions.get(sessionId);
  if (!session) throw new HttpError(404, 'not_found', `unknown session ${sessionId}`);
  if (session.status !== 'running') throw new HttpError(409, 'conflict', `session ${sessionId} is not running`);

  const uptimeMs = Date.now() - session.startedAt.getTime();
  Object.assign(session, { status: 'stopped', stoppedAt: new Date().toISOString(), uptimeMs });
  sendJson(res, 200, { session });
}
