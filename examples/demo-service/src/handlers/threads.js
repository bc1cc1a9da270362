import { HttpError, readJson, requireString, sendJson } from '../http-utils.js';
import { newId, threads } from '../store.js';

function summary(thread) {
  const { messages, ...rest } = thread;
  return { ...rest, messageCount: messages.length };
}

export function findThread(id) {
  const thread = threads.get(id);
  if (!thread) throw new HttpError(404, 'not_found', `unknown thread ${id}`);
  return thread;
}

/** Appends a message to a thread and returns it. */
export function appendMessage(thread, { role, author, text }) {
  const message = { id: newId('msg'), role, author, text, createdAt: new Date().toISOString() };
  thread.messages.push(message);
  return message;
}

export function listThreads({ res }) {
  sendJson(res, 200, { threads: [...threads.values()].map(summary) });
}

export async function createThread({ req, res }) {
  const body = await readJson(req);
  const title = requireString(body, 'title');
  const thread = { id: newId('thr'), title, createdAt: new Date().toISOString(), messages: [] };
  threads.set(thread.id, thread);
  sendJson(res, 201, { thread: summary(thread) });
}

export function getThread({ res, params }) {
  sendJson(res, 200, { thread: findThread(params.id) });
}

export function deleteThread({ res, params }) {
  findThread(params.id);
  threads.delete(params.id);
  res.writeHead(204).end();
}

export async function postThreadMessage({ req, res, params }) {
  const thread = findThread(params.id);
  const body = await readJson(req);
  const text = requireString(body, 'text');
  const message = appendMessage(thread, { role: 'user', author: 'anonymous', text });
  sendJson(res, 201, { message });
}
