/**
 * Bounds text runs in an XML stream before the XML parser sees them. saxes accumulates a whole text node
 * before emitting it, so a 100 MB `<system-out>` cost ~420 MB of RSS (measured) even though greenloop keeps
 * 8 KB of it. This filter passes markup through untouched and cuts every text or CDATA run longer than
 * `head + tail` characters down to its head and tail, replacing the middle with a sentinel that carries the
 * number of characters dropped (read back by `CappedText`) and as many newlines as were dropped, so line
 * numbers in later parse errors stay right. Cuts never split an entity reference or a surrogate pair.
 */

/** Marks dropped text: `\uE000<count>\uE000` (a private-use character, valid XML, absent from real output). */
export const DROP_SENTINEL = '\uE000';
const SENTINEL_RE = /\uE000(\d+)\uE000/g;

/** Removes sentinels from text, returning the clean text and the characters they stand for. */
export function takeDropped(text: string): { text: string; dropped: number } {
  if (!text.includes(DROP_SENTINEL)) return { text, dropped: 0 };
  let dropped = 0;
  const clean = text.replace(SENTINEL_RE, (_m, n: string) => {
    dropped += Number(n);
    return '';
  });
  return { text: clean, dropped };
}

type State = 'text' | 'tag' | 'cdata' | 'comment';
const TAG_REST = /(?:[^"'>]|"[^"]*"|'[^']*')*>/y;

/** Streaming filter: feed chunks to `push`, then call `end`; each returns the text to hand to the parser. */
export class RunLimiter {
  readonly #head: number;
  readonly #tail: number;
  #state: State = 'text';
  #quote = '';
  // Characters of the current run seen so far, and the run's retained tail once past the head.
  #runLength = 0;
  #tailBuf = '';
  #dropped = 0;
  #droppedNewlines = 0;
  // Characters moved from the head to the tail so a cut does not split an entity; the tail keeps that many more.
  #headShort = 0;
  // A held-back end of the head (partial entity or high surrogate) waiting for the next text.
  #pending = '';
  #carry = '';

  constructor(head = 128 * 1024, tail = 128 * 1024) {
    this.#head = head;
    this.#tail = tail;
  }

  push(chunk: string): string {
    const input = this.#carry + chunk;
    this.#carry = '';
    // input[from, i) passes through verbatim; `out` is only built when something is cut (rare), so the
    // common case costs a few indexOf calls per chunk and no string building.
    let out = '';
    let from = 0;
    let i = 0;
    const hold = (at: number): string => {
      this.#carry = input.slice(at);
      return out + input.slice(from, at);
    };
    while (i < input.length) {
      if (this.#state === 'tag') {
        i = this.#scanTag(input, i);
        continue;
      }
      if (this.#state === 'comment') {
        const end = input.indexOf('-->', i);
        // Keep the last two characters back: "-->" may straddle the chunk boundary.
        if (end === -1) return hold(Math.max(i, input.length - 2));
        i = end + 3;
        this.#state = 'text';
        continue;
      }
      // text or cdata: a run ends at "<" (text) or "]]>" (cdata).
      const cdata = this.#state === 'cdata';
      const end = input.indexOf(cdata ? ']]>' : '<', i);
      if (end !== -1 && this.#runLength === 0 && this.#pending === '' && end - i <= this.#head) {
        // A whole short run: verbatim.
      } else {
        out += input.slice(from, i);
        if (end === -1) {
          const keep = cdata ? Math.max(i, input.length - 2) : input.length;
          out += this.#runText(input.slice(i, keep));
          this.#carry = input.slice(keep);
          return out;
        }
        out += this.#runText(input.slice(i, end));
        out += this.#finishRun();
        from = end;
      }
      if (cdata) {
        i = end + 3;
        this.#state = 'text';
        continue;
      }
      // At "<": decide what markup starts here; wait for more input if it is too short to tell.
      const rest = input.slice(end, end + 9);
      if (rest.length < 9 && ('<![CDATA['.startsWith(rest) || '<!--'.startsWith(rest.slice(0, 4)))) return hold(end);
      if (rest.startsWith('<![CDATA[')) {
        i = end + 9;
        this.#state = 'cdata';
      } else if (rest.startsWith('<!--')) {
        i = end + 4;
        this.#state = 'comment';
      } else {
        i = end + 1;
        this.#state = 'tag';
        this.#quote = '';
      }
    }
    return out + input.slice(from);
  }

  /** Flushes what is held back (call once, after the last chunk). */
  end(): string {
    const rest = this.#carry;
    this.#carry = '';
    // Held back in text state: the start of markup; in CDATA: a possible "]]"; in a comment: a possible "--".
    if (this.#state === 'text') return this.#finishRun() + rest;
    if (this.#state === 'cdata') return this.#runText(rest) + this.#finishRun();
    return rest;
  }

  // Tags pass through whole; ">" inside a quoted attribute value does not end them. The regex (one way to
  // match at each position, so no backtracking blow-up) handles whole tags; the loop handles a tag cut by a
  // chunk boundary or resumed inside a quoted value.
  #scanTag(input: string, from: number): number {
    if (!this.#quote) {
      TAG_REST.lastIndex = from;
      if (TAG_REST.test(input)) {
        this.#state = 'text';
        return TAG_REST.lastIndex;
      }
    }
    for (let j = from; j < input.length; j++) {
      const c = input[j] as string;
      if (this.#quote) {
        if (c === this.#quote) this.#quote = '';
      } else if (c === '"' || c === "'") this.#quote = c;
      else if (c === '>') {
        this.#state = 'text';
        return j + 1;
      }
    }
    return input.length;
  }

  #runText(chunk: string): string {
    const text = this.#pending + chunk;
    this.#pending = '';
    if (text === '') return '';
    const room = this.#head - this.#runLength;
    if (room <= 0) {
      this.#tailBuf += text;
      if (this.#tailBuf.length > (this.#tail + this.#headShort) * 2) this.#trimTail(this.#tailBuf.length - this.#tail - this.#headShort);
      return '';
    }
    if (text.length <= room) {
      // Fits in the head. Hold back a trailing partial entity or high surrogate, so that wherever the head
      // ends later, the cut is decided with it whole (and the output does not depend on chunk boundaries).
      const hold = this.#unsafeSuffix(text);
      const emit = text.slice(0, text.length - hold);
      this.#pending = text.slice(text.length - hold);
      this.#runLength += emit.length;
      return emit;
    }
    let head = text.slice(0, room);
    let over = text.slice(room);
    const hold = this.#unsafeSuffix(head);
    if (hold > 0) {
      over = head.slice(head.length - hold) + over;
      head = head.slice(0, head.length - hold);
      this.#headShort = hold;
    }
    this.#runLength = this.#head;
    this.#tailBuf += over;
    if (this.#tailBuf.length > (this.#tail + this.#headShort) * 2) this.#trimTail(this.#tailBuf.length - this.#tail - this.#headShort);
    return head;
  }

  // Length of a trailing "&name" without its ";" (text only; CDATA has no entities) or a lone high surrogate.
  #unsafeSuffix(text: string): number {
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) return 1;
    if (this.#state !== 'text') return 0;
    const amp = text.lastIndexOf('&');
    return amp !== -1 && amp >= text.length - 12 && !text.includes(';', amp) ? text.length - amp : 0;
  }

  #trimTail(cut: number): void {
    const gone = this.#tailBuf.slice(0, cut);
    this.#dropped += gone.length;
    for (let j = gone.indexOf('\n'); j !== -1; j = gone.indexOf('\n', j + 1)) this.#droppedNewlines++;
    this.#tailBuf = this.#tailBuf.slice(cut);
  }

  #finishRun(): string {
    let out = '';
    if (this.#pending) {
      // A held-back suffix: part of the head if it still fits, else of the tail.
      if (this.#runLength + this.#pending.length <= this.#head) out += this.#pending;
      else this.#tailBuf += this.#pending;
      this.#pending = '';
    }
    const keep = this.#tail + this.#headShort;
    if (this.#tailBuf.length > keep) this.#trimTail(this.#tailBuf.length - keep);
    if (this.#dropped > 0) {
      // The tail must not start inside an entity or on the low half of a surrogate pair.
      let tail = this.#tailBuf;
      const partial = this.#state === 'text' ? /^[#\w]{0,11};/.exec(tail) : null;
      if (partial) {
        this.#dropped += partial[0].length;
        tail = tail.slice(partial[0].length);
      }
      const first = tail.charCodeAt(0);
      if (first >= 0xdc00 && first <= 0xdfff) {
        this.#dropped += 1;
        tail = tail.slice(1);
      }
      out += `${DROP_SENTINEL}${this.#dropped - this.#droppedNewlines}${DROP_SENTINEL}${'\n'.repeat(this.#droppedNewlines)}${tail}`;
    } else out += this.#tailBuf;
    this.#runLength = 0;
    this.#headShort = 0;
    this.#tailBuf = '';
    this.#dropped = 0;
    this.#droppedNewlines = 0;
    return out;
  }
}
