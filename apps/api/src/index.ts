export { type AppDeps, apiPlugin, BODY_LIMIT, buildApp } from './app.ts';
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.ts';
export { type RunningApi, startApi } from './server.ts';
