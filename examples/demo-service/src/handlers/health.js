import { sendJson } from '../http-utils.js';

export function health({ res }) {
  sendJson(res, 200, { ok: true });
}
