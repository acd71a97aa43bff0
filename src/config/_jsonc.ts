/**
 * JSON with comments and trailing commas, as `deno.json` and `deno.jsonc`
 * allow. Internal.
 *
 * @module
 */

/**
 * Parses JSONC: `//` and `/* *\/` comments and trailing commas before `}`
 * or `]` are allowed outside strings; everything else is strict JSON.
 * Comments and trailing commas become spaces, so error positions in the
 * message still point into the original text.
 *
 * @param text The file's text (a leading byte-order mark is ignored).
 * @returns The parsed value.
 * @throws {SyntaxError} When the text is not valid JSONC.
 */
export function parseJsonc(text: string): unknown {
  return JSON.parse(blankTrailingCommas(blankComments(text)));
}

function blankComments(text: string): string {
  let out = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let copied = i;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = skipString(text, i);
    } else if (c === "/" && text[i + 1] === "/") {
      let end = text.indexOf("\n", i);
      if (end === -1) end = text.length;
      out += text.slice(copied, i) + " ".repeat(end - i);
      i = copied = end;
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      // An unclosed comment is left in place for JSON.parse to reject.
      if (close === -1) break;
      const end = close + 2;
      out += text.slice(copied, i) + text.slice(i, end).replace(/[^\n]/g, " ");
      i = copied = end;
    } else {
      i++;
    }
  }
  return out + text.slice(copied);
}

function blankTrailingCommas(text: string): string {
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = skipString(text, i);
      continue;
    }
    if (c === ",") {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j])) j++;
      if (text[j] === "}" || text[j] === "]") {
        out += text.slice(copied, i) + " ";
        copied = i + 1;
      }
    }
    i++;
  }
  return out + text.slice(copied);
}

/** The index just after the string literal that starts at `start`. */
function skipString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}
