/**
 * A streaming splitter for pypss's JSON documents (`[trace, …]` or
 * `{"traces": [trace, …]}`): it yields the text of each element of the
 * trace array as it arrives, so a document of any size is read with memory
 * bounded by one chunk and one element, never parsed whole.
 *
 * @module
 */

/** The elements found in one chunk of a document. */
export interface ElementBatch {
  /** The elements' JSON texts. */
  texts: string[];
  /** The 1-based index of the first element. */
  first: number;
  /** Indices (into `texts`) of elements cut for being longer than the limit. */
  cut: number[];
}

/** What a document turned out to be, once its end was reached. */
export interface DocumentEnd {
  /** Set when the text ended inside the document: what was missing. */
  truncated?: string;
  /** Set when the top-level object has no `traces` array. */
  noTraces?: boolean;
  /** Set when non-blank text follows the document. */
  trailing?: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const COLON = 58;

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

/**
 * Splits a JSON document's text, chunk by chunk. Feed chunks with
 * `push()`, each returning the elements completed in it; `end()` tells
 * whether the document was whole.
 *
 * The top level is either an array (its elements are the traces) or an
 * object whose `traces` key holds the array (other keys are skipped
 * without being kept).
 */
export class JsonElementSplitter {
  readonly #maxLength: number;
  #depth = 0;
  #root: "none" | "array" | "object" = "none";
  /** Depth at which elements of the trace array begin; -1 outside it. */
  #elementDepth = -1;
  #inString = false;
  /** Backslashes right before the end of the previous chunk, inside a string. */
  #backslashes = 0;
  #inElement = false;
  #parts: string[] = [];
  #partsLength = 0;
  #overflow = false;
  #count = 0;
  #done = false;
  #trailing = false;
  #foundTraces = false;
  /** In the root object: whether the next string is a key. */
  #expectKey = false;
  #key = "";
  #keyDone = false;
  /** The last key of the root object, once its colon is seen. */
  #valueOf = "";
  #awaitValue = false;

  /**
   * @param maxLength Longest element kept, in characters; a longer one is
   * reported in `cut` with its first `maxLength` characters.
   */
  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  /** Whether the document has a root yet (the first non-blank character). */
  get started(): boolean {
    return this.#root !== "none";
  }

  /**
   * Scans one chunk.
   *
   * @param text The next chunk of the document.
   * @returns The elements that ended in it.
   */
  push(text: string): ElementBatch {
    const texts: string[] = [];
    const cut: number[] = [];
    const first = this.#count + 1;
    let start = this.#inElement ? 0 : -1;
    const length = text.length;
    let i = 0;
    while (i < length) {
      if (this.#inString) {
        const quote = text.indexOf('"', i);
        if (quote === -1) {
          if (this.#collectingKey()) this.#key += text.slice(i, i + 16);
          this.#backslashes = trailingBackslashes(
            text,
            i,
            length,
            this.#backslashes,
          );
          i = length;
          break;
        }
        let slashes = 0;
        let j = quote - 1;
        while (j >= i && text.charCodeAt(j) === BACKSLASH) {
          slashes++;
          j--;
        }
        if (j < i) slashes += this.#backslashes;
        this.#backslashes = 0;
        if (this.#collectingKey() && this.#key.length < 16) {
          this.#key += text.slice(i, Math.min(quote, i + 16));
        }
        i = quote + 1;
        if (slashes % 2 === 0) {
          this.#inString = false;
          if (this.#collectingKey()) this.#keyDone = true;
        }
        continue;
      }
      const code = text.charCodeAt(i);
      if (isSpace(code)) {
        i++;
        continue;
      }
      if (this.#done) {
        this.#trailing = true;
        i++;
        continue;
      }
      const depth = this.#depth;
      if (depth === this.#elementDepth && !this.#inElement) {
        if (code === CLOSE_BRACKET) {
          this.#closeTraceArray();
          i++;
          continue;
        }
        if (code === COMMA) {
          i++;
          continue;
        }
        this.#inElement = true;
        start = i;
      }
      switch (code) {
        case QUOTE:
          this.#inString = true;
          this.#backslashes = 0;
          if (this.#root === "object" && depth === 1 && this.#expectKey) {
            this.#key = "";
            this.#keyDone = false;
          }
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          if (depth === 0) {
            this.#root = code === OPEN_BRACKET ? "array" : "object";
            if (code === OPEN_BRACKET) this.#elementDepth = 1;
            else this.#expectKey = true;
          } else if (
            this.#root === "object" && depth === 1 && this.#awaitValue &&
            this.#valueOf === "traces" && code === OPEN_BRACKET
          ) {
            this.#elementDepth = 2;
            this.#foundTraces = true;
          }
          this.#awaitValue = false;
          this.#depth++;
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          this.#depth--;
          if (this.#depth === 0) this.#done = true;
          break;
        case COMMA:
          if (this.#inElement && depth === this.#elementDepth) {
            this.#finishElement(text, start, i, texts, cut);
            start = -1;
          }
          if (this.#root === "object" && depth === 1) {
            this.#expectKey = true;
            this.#awaitValue = false;
          }
          break;
        case COLON:
          if (this.#root === "object" && depth === 1 && this.#keyDone) {
            this.#valueOf = this.#key;
            this.#expectKey = false;
            this.#keyDone = false;
            this.#awaitValue = true;
          }
          break;
        default:
          if (this.#root === "none") {
            // Not a document at all; the caller decided wrongly.
            this.#done = true;
            this.#trailing = true;
          }
          this.#awaitValue = false;
      }
      i++;
      if (
        this.#inElement && this.#depth === this.#elementDepth - 1
      ) {
        // The trace array closed right after an element (`…}]`): the
        // bracket just read ends both.
        this.#finishElement(text, start, i - 1, texts, cut);
        start = -1;
        this.#elementDepth = -1;
      }
    }
    if (this.#inElement && start !== -1) this.#keep(text.slice(start));
    return { texts, first, cut };
  }

  /**
   * Ends the document.
   *
   * @returns The element cut short by the end of the text, if any, and
   * what was wrong with the document.
   */
  end(): { partial: string | undefined; end: DocumentEnd } {
    const end: DocumentEnd = {};
    let partial: string | undefined;
    if (this.#inElement) {
      partial = this.#parts.join("");
      this.#count++;
    }
    if (!this.#done) {
      end.truncated = this.#root === "none"
        ? "no JSON document"
        : this.#elementDepth > 0
        ? `the text ends inside the trace array (no closing ']')`
        : `the text ends before the document's closing ${
          this.#root === "array" ? "']'" : "'}'"
        }`;
    } else if (this.#root === "object" && !this.#foundTraces) {
      end.noTraces = true;
    }
    if (this.#trailing) end.trailing = true;
    return { partial, end };
  }

  /** Elements counted so far. */
  get count(): number {
    return this.#count;
  }

  #collectingKey(): boolean {
    return this.#root === "object" && this.#depth === 1 && this.#expectKey &&
      !this.#keyDone;
  }

  /** The trace array's `]`, read outside any element. */
  #closeTraceArray(): void {
    this.#elementDepth = -1;
    this.#depth--;
    if (this.#depth === 0) this.#done = true;
  }

  /**
   * Whether the text so far is one complete top-level object without a
   * `traces` array: an NDJSON record rather than a document.
   */
  get isRecord(): boolean {
    return this.#root === "object" && this.#done && !this.#foundTraces;
  }

  /** Whether the root object's `traces` array has begun. */
  get foundTraces(): boolean {
    return this.#foundTraces;
  }

  #keep(piece: string): void {
    if (this.#overflow) return;
    if (this.#partsLength + piece.length > this.#maxLength) {
      piece = piece.slice(0, this.#maxLength - this.#partsLength);
      this.#overflow = true;
    }
    this.#parts.push(piece);
    this.#partsLength += piece.length;
  }

  #finishElement(
    text: string,
    start: number,
    end: number,
    texts: string[],
    cut: number[],
  ): void {
    let element: string;
    if (this.#parts.length === 0 && start !== -1) {
      element = text.slice(start, end);
      if (element.length > this.#maxLength) {
        element = element.slice(0, this.#maxLength);
        cut.push(texts.length);
      }
    } else {
      if (start !== -1) this.#keep(text.slice(start, end));
      else this.#keep(text.slice(0, end));
      element = this.#parts.join("");
      if (this.#overflow) cut.push(texts.length);
    }
    texts.push(element);
    this.#count++;
    this.#parts = [];
    this.#partsLength = 0;
    this.#overflow = false;
    this.#inElement = false;
  }
}

function trailingBackslashes(
  text: string,
  from: number,
  to: number,
  carried: number,
): number {
  let count = 0;
  let j = to - 1;
  while (j >= from && text.charCodeAt(j) === BACKSLASH) {
    count++;
    j--;
  }
  return j < from ? carried + count : count;
}
