import { authenticate } from '../auth.js';
import { config } from '../config.js';
import { readJson, requireString, sendJson } from '../http-utils.js';
import { appendMessage, findThread } from './threads.js';

const DEFAULT_THREAD = 'thr_welcome';

export function listChatMessages({ req, res, query }) {
  authenticate(req, { audience: 'chat-api' });
  const thread = findThread(query.get('threadId') ?? DEFAULT_THREAD);
  sendJson(res, 200, { threadId: thread.id, messages: thread.messages.slice(-config.chatHistoryLimit) });
}

export async function postChatMessage({ req, res }) {
  const claims = authenticate(req, { audience: 'chat-api' });
  const body = await readJson(req);
  const text = requireString(body, 'text');
  const thread = findThread(typeof body.threadId === 'string' ? body.threadId : DEFAULT_THREAD);

  const message = appendMessage(thread, { role: 'user', author: String(claims.sub ?? 'unknown'), text });
  // Stand-in for a model call: the assistant echoes the user.
  const reply = appendMessage(thread, { role: 'assistant', author: 'echo-agent', text: `You said: ${text}` });
  sendJson(res, 201, { threadId: thread.id, message, reply });
}
