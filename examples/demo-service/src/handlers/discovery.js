import { HttpError, sendJson } from '../http-utils.js';
import { services } from '../store.js';

export function listServices({ res }) {
  sendJson(res, 200, { services });
}

export function getService({ res, params }) {
  const service = services.find((s) => s.name === params.name);
  if (!service) throw new HttpError(404, 'not_found', `unknown service ${params.name}`);
  sendJson(res, 200, { service });
}
