import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * What meetflow needs from a Matrix homeserver. Every method is idempotent as the server
 * answers it (matrix-notes.md): "already there" and "already gone" are success. Other answers
 * are thrown as a `MatrixError`; a rate limit carries the server's `retry_after_ms`.
 */
export interface MatrixClient {
  /** The bot's user id, e.g. `@meetflow-bot:localhost`. */
  whoami(): Promise<string>;
  /** Creates (or updates) a local user; returns its Matrix id. */
  ensureUser(localpart: string, displayName: string): Promise<string>;
  /** Creates the room with this alias once; a taken alias resolves to the existing room. */
  createRoom(aliasLocalpart: string, name: string, topic: string): Promise<string>;
  setNameAndTopic(roomId: string, name: string, topic: string): Promise<void>;
  /** Users invited to or joined in the room; empty when the room is gone. */
  members(roomId: string): Promise<string[]>;
  invite(roomId: string, userId: string): Promise<void>;
  kick(roomId: string, userId: string, reason?: string): Promise<void>;
  /** `txnId` makes a retry within the server's short memory a no-op; callers keep a durable flag too. */
  sendNotice(roomId: string, txnId: string, body: string): Promise<void>;
  /** Deletes and purges the room through the admin API, waiting until the purge completes. */
  purgeRoom(roomId: string, heartbeat?: () => void): Promise<void>;
}

export class MatrixError extends Error {
  readonly status: number;
  readonly errcode: string;
  /** Set on a rate limit: how long the homeserver asks us to wait. */
  readonly retryAfterMs?: number;
  constructor(status: number, errcode: string, message: string, retryAfterMs?: number) {
    super(`Matrix ${status} ${errcode}: ${message}`);
    this.name = 'MatrixError';
    this.status = status;
    this.errcode = errcode;
    this.retryAfterMs = retryAfterMs;
  }
}

/** An answer longer than MAX_ANSWER_BYTES: cut off unread. */
const TOO_LARGE = 'M_TOO_LARGE';

/** A 4xx other than a rate limit, or an answer too large to read: the homeserver will answer the same on a retry. */
export const isRejection = (err: unknown) =>
  err instanceof MatrixError && ((err.status >= 400 && err.status < 500 && err.retryAfterMs === undefined) || err.errcode === TOO_LARGE);

const enc = encodeURIComponent;
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * The most of one answer held in memory: a room's member list (~0.5 KiB a member) fits for 60,000
 * members. Anything longer, from a homeserver or a proxy gone wrong, is cut off.
 */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const tracer = trace.getTracer('meetflow-matrix');
interface Answer { status: number; statusText: string; retryAfter?: string; body: string }

export class HttpMatrixClient implements MatrixClient {
  private readonly baseUrl: string;
  private readonly token: string;
  private userId: string | null = null;

  constructor(baseUrl: string, accessToken: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = accessToken;
  }

  private async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(res.body); } catch { /* not JSON: the status says what happened */ }
    if (res.status >= 200 && res.status < 300) return json as T;
    const errcode = String(json.errcode ?? 'M_UNKNOWN');
    const message = String(json.error ?? res.statusText);
    if (res.status === 429 || errcode === 'M_LIMIT_EXCEEDED') {
      const retryAfterMs = Number(json.retry_after_ms ?? Number(res.retryAfter ?? 1) * 1000);
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', message, Math.max(retryAfterMs, 100));
    }
    throw new MatrixError(res.status, errcode, message);
  }

  /**
   * One call (over a kept-alive connection), answered whole within REQUEST_TIMEOUT_MS, as a client
   * span when tracing is on. node:http rather than fetch: a third of fetch's CPU per call, and
   * fetch opened a new connection for about every room that retention closed (bench/chat-retention.ts).
   */
  private send(method: string, path: string, body?: string): Promise<Answer> {
    const url = new URL(this.baseUrl + path);
    const attributes = { 'http.request.method': method, 'server.address': url.host, 'url.path': url.pathname };
    return tracer.startActiveSpan(`${method} matrix`, { kind: SpanKind.CLIENT, attributes }, (span) =>
      new Promise<Answer>((resolve, reject) => {
        const req = (url.protocol === 'https:' ? https : http).request(url, {
          method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), // node's global agent keeps connections alive
          // With its length: node sends a DELETE's body unframed otherwise.
          headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body ?? '') },
        }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_ANSWER_BYTES) return void chunks.push(c);
            res.destroy();
            reject(new MatrixError(res.statusCode ?? 0, TOO_LARGE, `answer to ${method} ${url.pathname} over ${MAX_ANSWER_BYTES} bytes`));
          });
          res.on('end', () => resolve({
            status: res.statusCode ?? 0, statusText: res.statusMessage ?? '',
            retryAfter: res.headers['retry-after'], body: Buffer.concat(chunks).toString('utf8'),
          }));
          res.on('error', reject); // cut off or timed out mid-answer
        });
        req.on('error', reject);
        req.end(body);
      }).then((answer) => {
        span.setAttribute('http.response.status_code', answer.status);
        return answer;
      }, (err: Error) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        throw err;
      }).finally(() => span.end()));
  }

  async whoami(): Promise<string> {
    this.userId ??= (await this.request<{ user_id: string }>('GET', '/_matrix/client/v3/account/whoami')).user_id;
    return this.userId;
  }

  private async serverName(): Promise<string> {
    return (await this.whoami()).split(':').slice(1).join(':');
  }

  async ensureUser(localpart: string, displayName: string): Promise<string> {
    const userId = `@${localpart}:${await this.serverName()}`;
    await this.request('PUT', `/_synapse/admin/v2/users/${enc(userId)}`, { displayname: displayName });
    return userId;
  }

  async createRoom(aliasLocalpart: string, name: string, topic: string): Promise<string> {
    try {
      const { room_id } = await this.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', {
        room_alias_name: aliasLocalpart, name, topic, preset: 'private_chat', visibility: 'private',
      });
      return room_id;
    } catch (err) {
      if (!(err instanceof MatrixError && err.errcode === 'M_ROOM_IN_USE')) throw err;
      // A retry after a lost answer: the alias already points at our room.
      const alias = `#${aliasLocalpart}:${await this.serverName()}`;
      return (await this.request<{ room_id: string }>('GET', `/_matrix/client/v3/directory/room/${enc(alias)}`)).room_id;
    }
  }

  async setNameAndTopic(roomId: string, name: string, topic: string): Promise<void> {
    await this.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.name/`, { name });
    await this.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic/`, { topic });
  }

  async members(roomId: string): Promise<string[]> {
    try {
      const { chunk } = await this.request<{ chunk: { state_key: string; content: { membership: string } }[] }>(
        'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members`);
      return chunk.filter((e) => e.content.membership === 'join' || e.content.membership === 'invite').map((e) => e.state_key);
    } catch (err) {
      // The bot is no longer in the room (deleted by hand or purged): nobody left to manage.
      if (err instanceof MatrixError && (err.errcode === 'M_FORBIDDEN' || err.errcode === 'M_NOT_FOUND')) return [];
      throw err;
    }
  }

  async invite(roomId: string, userId: string): Promise<void> {
    try {
      await this.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId });
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403 && /already in the room|is already joined/i.test(err.message)) return;
      throw err;
    }
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    try {
      await this.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: userId, reason });
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403 && /not in the room/i.test(err.message)) return;
      throw err;
    }
  }

  async sendNotice(roomId: string, txnId: string, body: string): Promise<void> {
    await this.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${enc(txnId)}`, { msgtype: 'm.notice', body });
  }

  async purgeRoom(roomId: string, heartbeat?: () => void): Promise<void> {
    let deleteId: string | undefined;
    try {
      ({ delete_id: deleteId } = await this.request<{ delete_id: string }>('DELETE', `/_synapse/admin/v2/rooms/${enc(roomId)}`, { purge: true, block: false }));
    } catch (err) {
      // A purge of this room is already running (an earlier attempt): wait for it below.
      if (!(err instanceof MatrixError && err.status === 400 && /already in progress/i.test(err.message))) throw err;
    }
    for (;;) {
      const status = deleteId
        ? await this.request<{ status: string; error?: string }>('GET', `/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}`)
        : (await this.request<{ results: { status: string; error?: string }[] }>('GET', `/_synapse/admin/v2/rooms/${enc(roomId)}/delete_status`)).results.at(-1);
      if (!status || status.status === 'complete') return;
      if (status.status === 'failed') throw new MatrixError(500, 'M_PURGE_FAILED', status.error ?? 'purge failed');
      heartbeat?.();
      await sleep(200);
    }
  }
}
