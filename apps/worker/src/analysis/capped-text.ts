import { DROP_SENTINEL } from './run-limiter.ts';

/**
 * Accumulates text up to a bound: the first `head` characters and the last `tail` characters are kept and the
 * middle is counted, so a 200 MB `<system-out>` costs a few kilobytes once it is out of the XML parser.
 */
export class CappedText {
  readonly #head: number;
  readonly #tail: number;
  #start = '';
  #end = '';
  #dropped = 0;
  #headClosed = false;

  constructor(head: number, tail = 0) {
    this.#head = head;
    this.#tail = tail;
  }

  /** Appends a chunk. */
  push(chunk: string): void {
    if (chunk.length === 0) return;
    const at = chunk.indexOf(DROP_SENTINEL);
    if (at !== -1) {
      // The RunLimiter cut this text before parsing: what follows the cut belongs to the end, and the cut
      // counts as dropped, so the marker lands where the text was cut with the full count.
      const close = chunk.indexOf(DROP_SENTINEL, at + 1);
      if (close !== -1) {
        this.push(chunk.slice(0, at));
        this.#headClosed = true;
        this.#dropped += Number(chunk.slice(at + 1, close)) || 0;
        this.push(chunk.slice(close + 1));
        return;
      }
    }
    const room = this.#headClosed ? 0 : this.#head - this.#start.length;
    if (room > 0) {
      if (chunk.length <= room) {
        this.#start += chunk;
        return;
      }
      this.#start += chunk.slice(0, room);
      chunk = chunk.slice(room);
    }
    if (this.#tail === 0) {
      this.#dropped += chunk.length;
      return;
    }
    this.#end += chunk;
    // Trim only when the tail is twice its bound, so a stream of small chunks is not quadratic.
    if (this.#end.length > this.#tail * 2) {
      this.#dropped += this.#end.length - this.#tail;
      this.#end = this.#end.slice(-this.#tail);
    }
  }

  /** Characters that did not fit (so far). */
  get dropped(): number {
    return this.#dropped + Math.max(0, this.#end.length - this.#tail);
  }

  get length(): number {
    return this.#start.length + this.#end.length;
  }

  /** The kept text, with a marker where characters were dropped. */
  toString(): string {
    const end = this.#end.length > this.#tail ? this.#end.slice(-this.#tail) : this.#end;
    const dropped = this.dropped;
    if (dropped === 0) return this.#start + end;
    return `${this.#start}\n… [${dropped} characters omitted] …\n${end}`;
  }
}

/** Cuts `text` to `max` characters, saying how much was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

/** The last `lines` lines of `text`. */
export function lastLines(text: string, lines: number): string {
  const parts = text.split('\n');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.slice(-lines).join('\n');
}
