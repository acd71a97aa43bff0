import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseJsonc } from "../../src/config/_jsonc.ts";

describe("parseJsonc()", () => {
  const cases: [string, string, unknown][] = [
    ["reads plain JSON", '{"a": [1, 2], "b": null}', { a: [1, 2], b: null }],
    ["drops line comments", '{"a": 1 // one\n}', { a: 1 }],
    ["drops block comments", '{/* x\n y */"a": 1}', { a: 1 }],
    ["drops trailing commas in objects and arrays", '{"a": [1, 2,], }', {
      a: [1, 2],
    }],
    [
      "drops a trailing comma followed by a comment",
      '{"a": 1, // last\n}',
      { a: 1 },
    ],
    [
      "keeps comment markers and commas inside strings",
      '{"u": "http://x/*y*/", "c": ",}", "q": "\\"//"}',
      { u: "http://x/*y*/", c: ",}", q: '"//' },
    ],
    ["ignores a byte-order mark", '\uFEFF{"a": 1}', { a: 1 }],
  ];
  for (const [behaviour, text, expected] of cases) {
    test(behaviour, () => assert.deepEqual(parseJsonc(text), expected));
  }

  const invalid: [string, string][] = [
    ["an unclosed block comment", '{"a": 1 /* never closed }'],
    ["a comma with no value before it", '{"a": 1,, }'],
    ["single quotes", "{'a': 1}"],
    ["an unterminated string", '{"a": "x}'],
  ];
  for (const [what, text] of invalid) {
    test(`rejects ${what} with a SyntaxError`, () => {
      assert.throws(() => parseJsonc(text), SyntaxError);
    });
  }
});
