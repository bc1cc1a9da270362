// Minimal server side of the WebSocket protocol (RFC 6455), enough for the
// demo: opening handshake, text/binary data frames (including fragmented
// messages), ping/pong and the closing handshake. No extensions
// (permessage-deflate offers are declined by not echoing them) and no
// subprotocols.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const Opcode = Object.freeze({
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
});

export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
});

// How long to wait for the peer's close frame (or TCP close) after we sent ours.
const CLOSE_TIMEOUT_MS = 3000;
// Close reasons must fit in a control frame: 125 bytes minus the 2-byte code.
const MAX_REASON_BYTES = 123;

class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function acceptKey(key) {
  return createHash('sha1')
    .update(key + HANDSHAKE_GUID)
    .digest('base64');
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function rejectUpgrade(socket, status, statusText, extraHeaders = {}) {
  const body = `${status} ${statusText}\n`;
  const headers = {
    Connection: 'close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...extraHeaders,
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  socket.end([`HTTP/1.1 ${status} ${statusText}`, ...head, '', body].join('\r\n'));
}

/**
 * Validates the client's opening handshake and switches protocols.
 * Returns the connection, or `null` after answering with an HTTP error.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:stream').Duplex} socket
 * @param {Buffer} head bytes already read past the request head
 * @param {{ maxPayload?: number }} [options]
 */
export function acceptUpgrade(req, socket, head, options = {}) {
  const key = req.headers['sec-websocket-key'];
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (req.method !== 'GET' || upgrade !== 'websocket' || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    rejectUpgrade(socket, 400, 'Bad Request');
    return null;
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    rejectUpgrade(socket, 426, 'Upgrade Required', { 'Sec-WebSocket-Version': '13' });
    return null;
  }
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`, '', ''].join('\r\n'),
  );
  return new WebSocketConnection(socket, head, options);
}

/**
 * One accepted connection.
 * Events: `message` (data: string | Buffer, isBinary: boolean), `pong` (Buffer),
 * `error` (Error), `close` (code: number, reason: string) — emitted once, when
 * the TCP connection is gone. The close code is the one the peer sent, or 1006
 * if the connection dropped without a close frame.
 */
export class WebSocketConnection extends EventEmitter {
  /** @type {'open' | 'closing' | 'closed'} */
  readyState = 'open';
  #socket;
  #maxPayload;
  #buffer = Buffer.alloc(0);
  /** @type {{ opcode: number, chunks: Buffer[], size: number } | null} */
  #fragments = null;
  #closeSent = false;
  #closeReceived = false;
  #peerClose = { code: CloseCode.ABNORMAL, reason: '' };
  #closeTimer = null;
  #textDecoder = new TextDecoder('utf-8', { fatal: true });

  constructor(socket, head, { maxPayload = 1024 * 1024 } = {}) {
    super();
    this.#socket = socket;
    this.#maxPayload = maxPayload;
    socket.setNoDelay?.(true);
    socket.setTimeout?.(0);
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (err) => this.#emitError(err));
    socket.on('close', () => this.#onSocketClose());
    // Bytes that arrived with the handshake are processed once the caller
    // has had a chance to attach listeners.
    if (head?.length) process.nextTick(() => this.#onData(head));
  }

  /** Sends a text (string) or binary (Buffer) message. Returns false if not open. */
  send(data) {
    if (this.readyState !== 'open') return false;
    const isText = typeof data === 'string';
    this.#writeFrame(isText ? Opcode.TEXT : Opcode.BINARY, isText ? Buffer.from(data, 'utf8') : data);
    return true;
  }

  ping(payload = Buffer.alloc(0)) {
    if (this.readyState === 'open') this.#writeFrame(Opcode.PING, payload);
  }

  /** Starts (or completes) the closing handshake. */
  close(code = CloseCode.NORMAL, reason = '') {
    if (this.#closeSent || this.readyState === 'closed') return;
    this.#closeSent = true;
    this.readyState = 'closing';
    let reasonBytes = Buffer.from(reason, 'utf8');
    if (reasonBytes.length > MAX_REASON_BYTES) reasonBytes = reasonBytes.subarray(0, MAX_REASON_BYTES);
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.#writeFrame(Opcode.CLOSE, payload);

    if (this.#closeReceived) {
      // Both close frames exchanged: the server closes the TCP connection first (§7.1.1).
      this.#socket.end();
    } else {
      this.#closeTimer = setTimeout(() => this.#socket.destroy(), CLOSE_TIMEOUT_MS);
      this.#closeTimer.unref();
    }
  }

  /** Drops the connection without a closing handshake. */
  terminate() {
    this.#socket.destroy();
  }

  #writeFrame(opcode, payload) {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    // Server-to-client frames are never masked (§5.1).
    let header;
    if (payload.length < 126) {
      header = Buffer.from([0x80 | opcode, payload.length]);
    } else if (payload.length < 0x10000) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 126;
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.#socket.write(Buffer.concat([header, payload]));
  }

  #onData(chunk) {
    if (this.#closeReceived) return;
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    try {
      for (let frame = this.#readFrame(); frame; frame = this.#readFrame()) {
        this.#handleFrame(frame);
        if (this.#closeReceived) break;
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.#buffer = Buffer.alloc(0);
        this.close(err.code, err.message);
      } else {
        throw err;
      }
    }
  }

  /** Parses one complete frame off the buffer, or returns null if more bytes are needed. */
  #readFrame() {
    const buf = this.#buffer;
    if (buf.length < 2) return null;
    const fin = (buf[0] & 0x80) !== 0;
    const rsv = buf[0] & 0x70;
    const opcode = buf[0] & 0x0f;
    const masked = (buf[1] & 0x80) !== 0;
    let length = buf[1] & 0x7f;
    let offset = 2;

    if (rsv !== 0) throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'reserved bits set');
    if (!masked) throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'client frames must be masked');
    const isControl = (opcode & 0x8) !== 0;
    if (isControl && (!fin || length > 125)) {
      throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'invalid control frame');
    }

    if (length === 126) {
      if (buf.length < 4) return null;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return null;
      const big = buf.readBigUInt64BE(2);
      if (big > BigInt(this.#maxPayload)) throw new ProtocolError(CloseCode.MESSAGE_TOO_BIG, 'message too big');
      length = Number(big);
      offset = 10;
    }
    if (length > this.#maxPayload) throw new ProtocolError(CloseCode.MESSAGE_TOO_BIG, 'message too big');
    if (buf.length < offset + 4 + length) return null;

    const mask = buf.subarray(offset, offset + 4);
    const payload = Buffer.from(buf.subarray(offset + 4, offset + 4 + length));
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    this.#buffer = buf.subarray(offset + 4 + length);
    return { fin, opcode, payload };
  }

  #handleFrame({ fin, opcode, payload }) {
    switch (opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
        if (this.#fragments) throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'expected continuation frame');
        if (fin) return this.#deliver(opcode, payload);
        this.#fragments = { opcode, chunks: [payload], size: payload.length };
        return;
      case Opcode.CONTINUATION: {
        const fragments = this.#fragments;
        if (!fragments) throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'unexpected continuation frame');
        fragments.size += payload.length;
        if (fragments.size > this.#maxPayload) throw new ProtocolError(CloseCode.MESSAGE_TOO_BIG, 'message too big');
        fragments.chunks.push(payload);
        if (fin) {
          this.#fragments = null;
          this.#deliver(fragments.opcode, Buffer.concat(fragments.chunks));
        }
        return;
      }
      case Opcode.PING:
        if (!this.#closeSent) this.#writeFrame(Opcode.PONG, payload);
        return;
      case Opcode.PONG:
        this.emit('pong', payload);
        return;
      case Opcode.CLOSE:
        return this.#onCloseFrame(payload);
      default:
        throw new ProtocolError(CloseCode.PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }
  }

  #onCloseFrame(payload) {
    this.#closeReceived = true;
    if (payload.length === 1) throw new ProtocolError(CloseCode.PROTOCOL_ERROR, 'invalid close frame');
    if (payload.length >= 2) {
      let reason = '';
      try {
        reason = this.#textDecoder.decode(payload.subarray(2));
      } catch {
        // Keep the code; an undecodable reason is not worth failing over.
      }
      this.#peerClose = { code: payload.readUInt16BE(0), reason };
    } else {
      this.#peerClose = { code: CloseCode.NO_STATUS, reason: '' };
    }

    if (this.#closeSent) {
      this.#socket.end();
    } else {
      // Echo the peer's code back (§5.5.1), then close TCP.
      const code = payload.length >= 2 ? this.#peerClose.code : CloseCode.NORMAL;
      this.close(code);
    }
  }

  #deliver(opcode, payload) {
    let data = payload;
    if (opcode === Opcode.TEXT) {
      try {
        data = this.#textDecoder.decode(payload);
      } catch {
        throw new ProtocolError(CloseCode.INVALID_PAYLOAD, 'invalid UTF-8 in text message');
      }
    }
    try {
      this.emit('message', data, opcode === Opcode.BINARY);
    } catch (err) {
      // A throwing listener must not take the whole process down.
      this.#emitError(err);
      this.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }

  #emitError(err) {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #onSocketClose() {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    clearTimeout(this.#closeTimer);
    this.emit('close', this.#peerClose.code, this.#peerClose.reason);
  }
}
