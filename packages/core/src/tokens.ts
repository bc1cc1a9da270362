import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { GreenloopError } from './errors.ts';

/** API roles, weakest first: each role can do everything the ones before it can. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `have` is at least `need` (viewer < operator < admin). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/**
 * What is stored per token. `hash` is HMAC-SHA256 of the whole token under the server-side token secret
 * (GREENLOOP_TOKEN_SECRET, kept outside Redis): whoever can write Redis still cannot mint a token.
 */
export interface TokenRecord {
  id: string;
  /** Unique among live tokens; recorded as the actor of everything done with the token. */
  name: string;
  role: Role;
  hash: string;
  createdAt: string;
  /** Name of the token (or "bootstrap-admin") that created this one. */
  createdBy: string;
  expiresAt?: string;
}

/** A token record without its hash: what listings and request principals carry. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

/** Token names follow the same rule as environment names, so they are safe in logs and audit lines. */
export const TOKEN_NAME_PATTERN = /^[a-z][a-z0-9._-]{0,62}$/;
const TOKEN_PATTERN = /^glt_([a-f0-9]{16})_([a-f0-9]{64})$/;

/**
 * sha256 of a presented token: the key of the API's in-memory map of tokens already checked (never
 * stored). The one-shot form: a quarter of createHash()'s cost, and this runs on every API request.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * What a token record stores: HMAC-SHA256 under the server's token secret. Not a password hash: the
 * token is 256 random bits, so there is no dictionary to try; a slow KDF would only add latency. The
 * secret is what makes a record written straight into Redis worthless.
 */
export function tokenMac(secret: string, token: string): string {
  return createHmac('sha256', secret).update(token).digest('hex');
}

/** Token names an admin may not take: they would pass for greenloop's own actors in the audit trail. */
export function isReservedTokenName(name: string): boolean {
  return name.startsWith('bootstrap') || name.startsWith('system');
}

/** Shortest GREENLOOP_TOKEN_SECRET accepted. */
export const MIN_TOKEN_SECRET_LENGTH = 32;

/**
 * The token secret: GREENLOOP_TOKEN_SECRET when set, else `<home>/token-secret` (mode 0600), generated on
 * first use, so the API and the worker on one machine share it. Several machines must set the variable.
 */
export function resolveTokenSecret(opts: { secret?: string | undefined; home: string }): string {
  if (opts.secret) return opts.secret;
  const file = join(opts.home, 'token-secret');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= MIN_TOKEN_SECRET_LENGTH) return kept;
  } catch {}
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  // 'wx': two processes starting at once must not each write their own; the loser reads the winner's.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
  chmodSync(file, 0o600);
  return secret;
}

/** Constant-time comparison of two hex sha256 digests. */
export function hashesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ab.length === bb.length && ab.length > 0 && timingSafeEqual(ab, bb);
}

/** `glt_<16 hex id>_<64 hex secret>`; the id is not secret and locates the record. */
export function parseToken(token: string): { id: string } | undefined {
  const m = TOKEN_PATTERN.exec(token);
  return m ? { id: m[1] as string } : undefined;
}

/** API tokens in Redis: `<prefix>:token:<id>` (JSON record) and `<prefix>:tokens` (name → id). */
export class TokenStore {
  readonly redis: Redis;
  readonly prefix: string;
  /** Where verification reads token records: the API's tracked read connection (see NearCache). */
  private readonly reads: Redis;
  private readonly secret: string;

  /** `secret`: the server-side token secret (resolveTokenSecret); records are MACs under it. */
  constructor(redis: Redis, prefix: string, opts: { secret: string; reads?: Redis }) {
    this.redis = redis;
    this.prefix = prefix;
    this.reads = opts.reads ?? redis;
    this.secret = opts.secret;
  }

  /** The MAC a token's record must hold. */
  mac(token: string): string {
    return tokenMac(this.secret, token);
  }

  recordKey(id: string): string {
    return `${this.prefix}:token:${id}`;
  }

  private get namesKey(): string {
    return `${this.prefix}:tokens`;
  }

  /** Creates a token; the returned `token` is shown once and cannot be recovered afterwards. */
  async create(req: { name: string; role: Role; createdBy: string; expiresAt?: string }): Promise<{ token: string; info: TokenInfo }> {
    if (!TOKEN_NAME_PATTERN.test(req.name)) throw new GreenloopError('TOKEN_NAME_INVALID', `token name "${req.name}" must match ${TOKEN_NAME_PATTERN.source}`);
    if (isReservedTokenName(req.name))
      throw new GreenloopError('TOKEN_NAME_RESERVED', `token name "${req.name}" is reserved (names starting "bootstrap" or "system" are greenloop's own)`);
    const id = randomBytes(8).toString('hex');
    const token = `glt_${id}_${randomBytes(32).toString('hex')}`;
    const record: TokenRecord = { id, name: req.name, role: req.role, hash: this.mac(token), createdAt: new Date().toISOString(), createdBy: req.createdBy };
    if (req.expiresAt) record.expiresAt = req.expiresAt;
    // The name claim is atomic so two admins creating "ci" at once get one token and one conflict.
    const claimed = await this.redis.hsetnx(this.namesKey, req.name, id);
    if (claimed !== 1) throw new GreenloopError('TOKEN_NAME_TAKEN', `a token named "${req.name}" already exists; revoke it first or pick another name`);
    await this.redis.set(this.recordKey(id), JSON.stringify(record));
    return { token, info: toInfo(record) };
  }

  async get(id: string): Promise<TokenInfo | undefined> {
    const raw = await this.redis.get(this.recordKey(id));
    return raw ? toInfo(JSON.parse(raw) as TokenRecord) : undefined;
  }

  async list(): Promise<TokenInfo[]> {
    const ids = Object.values(await this.redis.hgetall(this.namesKey));
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.recordKey(id)));
    return raws
      .filter((r): r is string => r !== null)
      .map((r) => toInfo(JSON.parse(r) as TokenRecord))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Deletes the token. Returns what was revoked, or undefined when there was no such token. */
  async revoke(id: string): Promise<TokenInfo | undefined> {
    const raw = await this.redis.get(this.recordKey(id));
    if (!raw) return undefined;
    const record = JSON.parse(raw) as TokenRecord;
    await this.redis.multi().del(this.recordKey(id)).hdel(this.namesKey, record.name).exec();
    return toInfo(record);
  }

  /** The token's record if the token is valid and unexpired; compares hashes in constant time. */
  async verify(token: string, now = Date.now()): Promise<TokenInfo | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    return checkToken(await this.readRecord(parsed.id), this.mac(token), now);
  }

  /** A token's stored record (with its hash), read through the verification connection. */
  async readRecord(id: string): Promise<TokenRecord | undefined> {
    const raw = await this.reads.get(this.recordKey(id));
    return raw ? (JSON.parse(raw) as TokenRecord) : undefined;
  }
}

/** What a presented token (by its MAC) is worth against its stored record: its info, or nothing. */
export function checkToken(record: TokenRecord | undefined, tokenMacHex: string, now = Date.now()): TokenInfo | undefined {
  if (!record || typeof record.hash !== 'string' || !hashesEqual(tokenMacHex, record.hash)) return undefined;
  if (record.expiresAt && Date.parse(record.expiresAt) <= now) return undefined;
  return toInfo(record);
}

function toInfo(record: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = record;
  return info;
}
