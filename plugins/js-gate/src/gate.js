// The `std-json` gate adapter in JavaScript: turnstiles that speak the venue's reference
// JSON (protocol.md, section 1) as it is. A port of plugins/std-json-gate/src/lib.rs,
// built into a `gate-adapter` component with componentize-js (see build.sh).
//
// Grants needed: `log` (to report payloads it refuses).
//
// The Rust plugin decodes with serde_json into a derived struct. To accept and refuse
// exactly the same payloads, this file carries a small decoder that follows serde_json's
// rules rather than JSON.parse: integers and floats are told apart (`"count":1.0` is
// refused), u32 and i64 ranges are checked, duplicate known fields are refused, unknown
// fields are skipped without checking their strings' UTF-8, an array in field order is
// accepted as the struct (serde's sequence form), and errors read like serde_json's
// (`missing field `at` at line 1 column 40`).

import { log } from 'venue:edge/log@1.1.0';

// ---------------------------------------------------------------------------------------
// serde_json's error messages and positions

class JsonError {
  constructor(message) {
    this.message = message;
  }
  toString() {
    return this.message;
  }
}

// An error from a visitor (serde's `de::Error::custom`): it has no position yet.
class DataError {
  constructor(message) {
    this.message = message;
  }
}

const EOF_LIST = 'EOF while parsing a list';
const EOF_OBJECT = 'EOF while parsing an object';
const EOF_STRING = 'EOF while parsing a string';
const EOF_VALUE = 'EOF while parsing a value';
const EXPECTED_COLON = 'expected `:`';
const EXPECTED_LIST_COMMA_OR_END = 'expected `,` or `]`';
const EXPECTED_OBJECT_COMMA_OR_END = 'expected `,` or `}`';
const EXPECTED_IDENT = 'expected ident';
const EXPECTED_VALUE = 'expected value';
const INVALID_ESCAPE = 'invalid escape';
const INVALID_NUMBER = 'invalid number';
const NUMBER_OUT_OF_RANGE = 'number out of range';
const INVALID_UNICODE = 'invalid unicode code point';
const CONTROL_CHARACTER = 'control character (\\u0000-\\u001F) found while parsing a string';
const KEY_MUST_BE_A_STRING = 'key must be a string';
const LONE_LEADING_SURROGATE = 'lone leading surrogate in hex escape';
const TRAILING_COMMA = 'trailing comma';
const TRAILING_CHARACTERS = 'trailing characters';
const UNEXPECTED_END_OF_HEX_ESCAPE = 'unexpected end of hex escape';

const U32_MAX = 0xffffffffn;
const U64_MAX = 0xffffffffffffffffn;
const I64_MAX = 0x7fffffffffffffffn;
const I64_MIN_MAGNITUDE = 0x8000000000000000n;

const isDigit = (b) => b >= 0x30 && b <= 0x39;

// Rust's `{:?}` of a str: quotes, the usual backslash escapes, `\u{..}` for characters
// that are not printable or that extend a grapheme. Rust escapes the general categories
// Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (but the space) and the Grapheme_Extend property.
// StarlingMonkey's regular expressions have no `\p{..}`, so the code points come as a
// table: each entry is `gap.length` in base 36 (start = previous end + gap, end = start +
// length). Made with Node 20 (ICU 78.2, Unicode 17.0, as Rust 1.95's tables) by:
//   const re = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]/u;
//   then runs of code points c != 0x20 with re.test(String.fromCodePoint(c)).
const ESCAPED_TABLE = `
0.v 2o.x d.0 gj.33 9.1 7.3 8.0 2.0 l.0 69.6 4n.0 13.1 1f.1 4.19 2.0 2.1 2.1 2.8 s.3
7.g b.a 2.0 1b.k h.0 2u.7 2.5 3.1 2.3 x.1 2.0 v.s 2i.a 2.d 18.8 8.2 p.3 2.8 2.2 2.6
g.0 q.4 2.0 c.4 x.f 17.1k 1k.0 2.0 5.7 5.0 4.6 b.1 u.0 3.0 9.1 3.1 n.0 8.0 2.2 5.2 2.0
3.5 3.1 3.0 2.c 3.0 4.3 p.4 2.0 7.3 3.1 n.0 8.0 3.0 3.0 3.3 4.n 5.0 2.6 b.1 4.0 2.b
2.0 a.0 4.0 n.0 8.0 3.0 6.2 5.7 2.0 3.2 2.e 3.3 d.6 2.7 3.0 9.1 3.1 n.0 8.0 3.0 6.2
2.1 2.5 3.1 3.e 3.0 4.3 j.a 2.0 7.2 4.0 5.2 3.0 2.0 3.2 3.2 4.2 d.4 2.0 3.2 4.0 4.2
2.k m.5 4.0 9.0 4.0 o.0 h.2 2.2 5.i 4.0 3.1 3.3 b.6 b.0 c.0 4.0 o.0 b.0 6.2 3.1 2.0
3.m 4.0 3.3 b.0 4.d c.0 4.0 16.1 2.0 3.4 4.0 4.0 3.3 4.0 b.3 r.1 3.0 j.2 p.0 a.0 2.1
8.8 3.5 8.6 b.1 4.b 1d.0 3.a 9.7 e.10 3.0 2.0 6.0 p.0 2.0 b.0 3.8 2.1 6.0 2.8 b.1 5.v
p.1 s.0 2.0 2.0 f.0 11.h 2.4 2.1 6.1c 9.0 7.0 e.10 1a.3 2.5 2.1 3.1 q.1 5.2 h.3 e.0
3.1 7.0 g.0 15.0 2.4 2.1 ai.0 5.1 8.0 2.0 5.1 16.0 5.1 y.0 5.1 8.0 2.0 5.1 g.0 1m.0
5.1 1w.4 u.2 r.5 2f.1 7.1 ht.0 t.2 2i.6 j.c k.2 3.8 j.d e.0 4.e 1h.1 2.6 9.0 3.a a.2
b.5 b.5 c.4 b.5 2i.6 6.1 z.0 2.4 1z.9 w.3 5.1 4.3 3.0 7.6 2.2 17.1 6.a 19.3 r.5 c.2
1m.1 3.2 1l.0 2.8 2.0 3.7 7.c b.5 b.5 f.2d 1d.9 5.2 9.0 u.8 d.1 x.3 3.5 1l.0 2.1 4.0
2.c 1d.7 3.4 g.2 1r.4 18.1 c.a 2.c 2.6 5.0 7.0 4.1 2.4 5d.1r 7r.1 7.1 13.1 7.1 9.0 2.0
2.0 2.0 w.1 1i.0 g.0 f.1 7.0 k.1 4.0 a.g p.7 1c.g 3.1 s.0 e.2 z.1p 3x.3 ij.l c.k 1ed.1
ai.2 3.4 1a.0 2.4 2.1 1l.6 3.e o.8 8.0 8.0 8.0 8.0 8.0 8.0 8.0 8.w 2n.x r.0 2i.b 5z.p
h.0 16.5 h.0 2f.3 2u.4 18.0 2n.0 2f.8 1d.0 mlq.2 1k.8 9p.j 1c.3 2.9 x.1 29.1 7.7 66.j
i.0 4.0 5.0 q.1 6.3 b.5 1l.7 1x.9 d.n e.0 13.7 q.a 2.b v.5 1d.0 3.3 3.1 3.0 e.0 c.3
8.0 q.0 16.5 3.1 3.a 4.0 9.0 2.1 b.1 x.0 1g.0 2.2 3.1 6.1 2.0 2.n i.1 9.a 7.1 7.1 7.8
8.0 8.0 1p.3 3a.0 3.0 5.2 b.5 8md.b o.3 1e.6ir a7.1 2z.11 8.b 6.4 2.0 p.0 6.0 2.0 3.0
3.0 i3.v h.f b.l 10.0 k.0 5.3 6.0 3s.3 4e.1 w.2 7.1 7.1 7.1 4.2 8.0 8.c 3.1 d.0 r.0
k.0 3.0 g.1 f.x 3g.4 4.3 1a.2 2h.0 e.2 2.1a 1a.3m u.2 1e.f s.3 11.8 v.4 13.9 v.0 12.3
f.15 4f.1 b.5 11.3 11.3 15.7 1h.a d.0 g.0 8.0 3.0 c.0 g.0 8.0 3.2 1h.b 8o.8 n.9 9.n
7.0 17.0 a.1w 7.1 2.0 19.0 3.2 2.1 o.0 21.7 a.1b k.0 3.4 y.2 s.4 s.11 1l.3 l.1 1c.e
5.0 4.0 u.9 a.6 a.6 1t.v 12.5 d.8 1j.2 u.1 s.4 r.6 5.b 8.27 22.1i 1g.c 1g.6 17.b b.5
13.7 p.7 3.5r w.0 17.2 2.1 3.f 7.7 a.12 15.7 n.a a.l j.3 5.11 t.j o.8 2.0 1j.e 8.3 v.0
3.1 2.b 1e.3 3.1 3.0 5.d q.6 b.8 11.4 2.8 j.7 10.0 4.a 1h.8 2.0 9.3 3.0 h.0 l.a j.0
t.2 3.3 7.0 3.1q 8.0 2.0 5.0 g.0 c.5 1c.0 4.c b.7 3.0 9.1 3.1 n.0 8.0 3.0 6.2 2.0 2.0
5.1 3.1 3.2 2.b 8.r b.0 2.1 2.0 13.0 2.0 3.e 2.0 3.2 2.0 4.0 3.12 1l.7 3.2 2.0 m.0 2.0
4.t 1d.0 3.5 2.0 3.0 2.1 2.1 5.7 b.4l 1c.0 3.5 5.1 2.1 s.z 1g.7 3.0 2.1 5.a b.5 e.i
18.0 2.0 3.7 3.5 b.5 l.r s.2 2.0 3.3 2.8 o.54 1c.8 2.1 2.2r 2c.b 9.1 2.1 9.0 3.0 p.0
6.0 3.5 5.0 4.8 b.1x 9.1 17.7 5.0 5.q 2.9 15.5 3.3 9.8 2.5 3.2 1b.c 2.1 a.c 22.6 b.2e
2.2 2.0 2.2f z.d b.5 a.0 13.d 2.0 7.9 u.2 x.o 2.6 2.1 2.22 8.0 3.0 13.k 2.8 b.5 7.0
3.0 12.3 3.0 2.0 2.6 b.5 19.3 b.6t k.1 5.8 g.0 11.7 3.2 o.2d 2.e 1f.c po.2t 34.0 6.a
5h.217 2s.c tt.g 7.o 330.4 g8.5a0 v.b 4.2 b.1c5 fu.6 w.0 b.3 2a.0 b.5 v.6 2.9 1d.6 g.9
b.0 8.0 m.4 k.bz 1n.5h 2k.4 q.1 q.17 24.4 1l.a e.1r 5.d 6.8 5p3.14 x.2o 38.6po 5.0 8.0
3.0 84.e 2.s 4.1 2.d 5.7 b1.1s3 30.4 e.2 a.6 b.1 2.1 2.31b 72.2 c5.5 o.e i.2m 39.1n
6v.9 14.1 1p.4 4.l 3.6 v.3 1q.k 1v.2 2.3d l.b l.b 2g.8 q.3q 2e.0 20.0 3.1 2.1 3.1 5.0
d.0 2.0 8.0 1u.0 5.1 9.0 8.0 t.0 5.0 6.0 2.2 8.0 9h.1 85.1 fn.1i 5.1d 9.0 f.0 8.vn w.5
7.78 1r.41 1a.9 8.1 b.3 3.8v v.h 19.3 b.4 2.cv t.3 b.5x v.1 c.3 2.5b w.0 4.0 3.0 8.1
6.8 3.67 8.0 5.0 3.0 g.0 5i.1 a.1b 1x.6 2.3 b.3 3.ls 1x.23 1q.5d 5.0 s.0 3.0 2.1 2.0
b.0 5.0 2.0 2.5 2.3 2.0 2.0 2.0 4.0 3.0 2.1 2.0 2.0 2.0 2.0 2.0 3.0 2.1 5.0 8.0 5.0
5.0 2.0 b.0 i.4 4.0 6.0 i.1f 3.7h 19.3 2t.b g.1 g.0 g.0 12.9 4v.1j u.c 19.3 a.6 3.d
7.49 re.2 i.2 e.2 63.5 d.3 2.e d.3 1l.7 b.5 15.7 v.1 d.3 3.d a.12 9l.7 f.1 e.2 c.2
1m.0 2.3 h.1 d.3 b.6 44.0 2w.sk wyp.v 3dr.1 4gf.1 5rm.e hb.1wh f3.15t 3t8.4 6jv.jdl1
`;

const ESCAPED_RANGES = (() => {
  const ranges = [];
  let prev = 0;
  for (const entry of ESCAPED_TABLE.trim().split(/\s+/)) {
    const [gap, length] = entry.split('.').map((t) => parseInt(t, 36));
    const start = prev + gap;
    prev = start + length;
    ranges.push(start, prev);
  }
  return ranges;
})();

function isEscapedInDebug(cp) {
  let lo = 0;
  let hi = ESCAPED_RANGES.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ESCAPED_RANGES[2 * mid]) hi = mid - 1;
    else if (cp > ESCAPED_RANGES[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

function rustDebugStr(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '\0') out += '\\0';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (cp !== 0x20 && isEscapedInDebug(cp)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

// serde_json prints floats with zmij: shortest digits, fixed notation for decimal
// exponents -5..=15 (`1.0`, `0.00001`, `544431068535091.6`), otherwise `1.5e+16`, `1e-7`.
function formatFloat(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  if (exp >= -5 && exp <= 15) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
    return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${head}e${exp >= 0 ? '+' : '-'}${Math.abs(exp)}`;
}

// serde's `Unexpected`, as serde_json prints it.
function unexpected(kind, value) {
  switch (kind) {
    case 'null':
      return 'null';
    case 'bool':
      return `boolean \`${value}\``;
    case 'u64':
    case 'i64':
      return `integer \`${value}\``;
    case 'f64':
      return `floating point \`${formatFloat(value)}\``;
    case 'str':
      return `string ${rustDebugStr(value)}`;
    case 'seq':
      return 'sequence';
    default:
      return 'map';
  }
}

const invalidType = (kind, value, expected) =>
  new DataError(`invalid type: ${unexpected(kind, value)}, expected ${expected}`);
const invalidValue = (kind, value, expected) =>
  new DataError(`invalid value: ${unexpected(kind, value)}, expected ${expected}`);

// Rust's `str::from_utf8`: the length of the valid prefix of `bytes`.
function utf8ValidUpTo(bytes) {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let width;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) width = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      width = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      width = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + 1 >= n || bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k < width; k++) {
      if (i + k >= n || bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    }
    i += width;
  }
  return n;
}

// ignoreBOM: a string that starts with U+FEFF keeps it. The fatal decoder checks UTF-8 the
// way `str::from_utf8` does, natively.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Checker = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function pushCodePoint(out, n) {
  if (n < 0x80) out.push(n);
  else if (n < 0x800) out.push(0xc0 | (n >> 6), 0x80 | (n & 0x3f));
  else if (n < 0x10000) out.push(0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f));
  else
    out.push(
      0xf0 | (n >> 18),
      0x80 | ((n >> 12) & 0x3f),
      0x80 | ((n >> 6) & 0x3f),
      0x80 | (n & 0x3f),
    );
}

function concatBytes(parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// A reader over the payload's bytes, after serde_json's `Deserializer<SliceRead>`

// The payload as a string of one char per byte (latin1), for the engine's native string
// and regexp searches: StarlingMonkey interprets JS, so a loop over a large payload's bytes
// is slow, while `indexOf` and regular expressions run in C++.
function latin1(bytes) {
  let out = '';
  for (let k = 0; k < bytes.length; k += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(k, k + 8192));
  }
  return out;
}

const WHITESPACE = /[ \t\n\r]*/y;
const DIGITS = /[0-9]*/y;
// A string's bytes up to a quote, a backslash or a control character.
const PLAIN = /[^"\\\u0000-\u001f]*/y;
class Reader {
  constructor(bytes, text) {
    this.s = bytes;
    this.text = text;
    this.i = 0;
  }

  // Moves past what the sticky regexp `re` matches here.
  skip(re) {
    re.lastIndex = this.i;
    re.test(this.text);
    this.i = re.lastIndex;
  }

  peek() {
    return this.i < this.s.length ? this.s[this.i] : -1;
  }

  next() {
    if (this.i < this.s.length) return this.s[this.i++];
    return -1;
  }

  positionOf(index) {
    const start = index === 0 ? 0 : this.text.lastIndexOf('\n', index - 1) + 1;
    let line = 1;
    for (let k = this.text.indexOf('\n'); k !== -1 && k < start; k = this.text.indexOf('\n', k + 1)) line += 1;
    return `line ${line} column ${index - start}`;
  }

  // An error caused by a byte from next(): at the current index.
  error(message) {
    return new JsonError(`${message} at ${this.positionOf(this.i)}`);
  }

  // An error caused by a byte from peek(): one past the current index.
  peekError(message) {
    return new JsonError(`${message} at ${this.positionOf(Math.min(this.s.length, this.i + 1))}`);
  }

  fix(err) {
    return err instanceof DataError ? this.error(err.message) : err;
  }

  whitespace() {
    this.skip(WHITESPACE);
    return this.peek();
  }

  end() {
    if (this.whitespace() !== -1) throw this.peekError(TRAILING_CHARACTERS);
  }

  ident(rest) {
    for (let k = 0; k < rest.length; k++) {
      const b = this.next();
      if (b === -1) throw this.error(EOF_VALUE);
      if (b !== rest.charCodeAt(k)) throw this.error(EXPECTED_IDENT);
    }
  }

  // --- strings

  hex4() {
    if (this.s.length - this.i < 4) {
      this.i = this.s.length;
      throw this.error(EOF_STRING);
    }
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const b = this.s[this.i + k];
      let v;
      if (b >= 0x30 && b <= 0x39) v = b - 0x30;
      else if (b >= 0x61 && b <= 0x66) v = b - 0x61 + 10;
      else if (b >= 0x41 && b <= 0x46) v = b - 0x41 + 10;
      else {
        this.i += 4;
        throw this.error(INVALID_ESCAPE);
      }
      n = n * 16 + v;
    }
    this.i += 4;
    return n;
  }

  nextOrEof() {
    const b = this.next();
    if (b === -1) throw this.error(EOF_STRING);
    return b;
  }

  peekOrEof() {
    const b = this.peek();
    if (b === -1) throw this.error(EOF_STRING);
    return b;
  }

  // After an opening quote: the string's bytes, escapes resolved, up to the closing quote.
  strBytes() {
    const parts = [];
    let start = this.i;
    for (;;) {
      this.skip(PLAIN);
      const b = this.peek();
      if (b === -1) throw this.error(EOF_STRING);
      if (b === 0x22) {
        parts.push(this.s.subarray(start, this.i));
        this.i += 1;
        return parts.length === 1 ? parts[0] : concatBytes(parts);
      }
      if (b === 0x5c) {
        parts.push(this.s.subarray(start, this.i));
        this.i += 1;
        const escaped = [];
        this.escape(escaped);
        parts.push(Uint8Array.from(escaped));
        start = this.i;
      } else if (b < 0x20) {
        this.i += 1;
        throw this.error(CONTROL_CHARACTER);
      } else this.i += 1;
    }
  }

  escape(out) {
    const c = this.nextOrEof();
    switch (c) {
      case 0x22:
        out.push(0x22);
        return;
      case 0x5c:
        out.push(0x5c);
        return;
      case 0x2f:
        out.push(0x2f);
        return;
      case 0x62:
        out.push(0x08);
        return;
      case 0x66:
        out.push(0x0c);
        return;
      case 0x6e:
        out.push(0x0a);
        return;
      case 0x72:
        out.push(0x0d);
        return;
      case 0x74:
        out.push(0x09);
        return;
      case 0x75:
        break;
      default:
        throw this.error(INVALID_ESCAPE);
    }
    const n = this.hex4();
    if (n >= 0xdc00 && n <= 0xdfff) throw this.error(LONE_LEADING_SURROGATE);
    if (n < 0xd800 || n > 0xdbff) {
      pushCodePoint(out, n);
      return;
    }
    if (this.peekOrEof() === 0x5c) this.i += 1;
    else {
      this.i += 1;
      throw this.error(UNEXPECTED_END_OF_HEX_ESCAPE);
    }
    if (this.peekOrEof() === 0x75) this.i += 1;
    else {
      this.i += 1;
      throw this.error(UNEXPECTED_END_OF_HEX_ESCAPE);
    }
    const n2 = this.hex4();
    if (n2 < 0xdc00 || n2 > 0xdfff) throw this.error(LONE_LEADING_SURROGATE);
    pushCodePoint(out, (((n - 0xd800) << 10) | (n2 - 0xdc00)) + 0x10000);
  }

  // After an opening quote: the string, which must be UTF-8.
  str() {
    const bytes = this.strBytes();
    try {
      return utf8Checker.decode(bytes);
    } catch {
      // not UTF-8: find where, below
    }
    const valid = utf8ValidUpTo(bytes);
    if (valid < bytes.length) {
      // serde_json points at the first bad byte, counting back from the closing quote.
      const at = this.positionOf(this.i);
      const [, line, column] = at.match(/^line (\d+) column (\d+)$/);
      const col = Math.max(0, Number(column) - (bytes.length - valid));
      throw new JsonError(`${INVALID_UNICODE} at line ${line} column ${col}`);
    }
    return utf8Decoder.decode(bytes);
  }

  // After an opening quote, for a value nobody reads: no UTF-8 or surrogate checks.
  ignoreStr() {
    for (;;) {
      this.skip(PLAIN);
      const b = this.peek();
      if (b === -1) throw this.error(EOF_STRING);
      if (b === 0x22) {
        this.i += 1;
        return;
      }
      if (b === 0x5c) {
        this.i += 1;
        const c = this.nextOrEof();
        if (c === 0x75) this.hex4();
        else if (![0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(c))
          throw this.error(INVALID_ESCAPE);
      } else if (b < 0x20) {
        throw this.error(CONTROL_CHARACTER);
      } else this.i += 1;
    }
  }

  // --- numbers

  // After an optional '-': { kind: 'u64' | 'i64' | 'f64', value }.
  integer(positive, start) {
    const c = this.next();
    if (c === -1) throw this.error(EOF_VALUE);
    let sig;
    if (c === 0x30) {
      if (isDigit(this.peek())) throw this.peekError(INVALID_NUMBER);
      sig = 0n;
    } else if (c >= 0x31 && c <= 0x39) {
      sig = BigInt(c - 0x30);
      while (isDigit(this.peek())) {
        const next = sig * 10n + BigInt(this.peek() - 0x30);
        if (next > U64_MAX) {
          // Too long for u64: the rest is read as a float.
          this.skip(DIGITS);
          return this.fraction(start);
        }
        sig = next;
        this.i += 1;
      }
    } else throw this.error(INVALID_NUMBER);
    const b = this.peek();
    if (b === 0x2e || b === 0x65 || b === 0x45) return this.fraction(start);
    if (positive) return { kind: 'u64', value: sig };
    if (sig === 0n) return { kind: 'f64', value: -0 };
    if (sig <= I64_MIN_MAGNITUDE) return { kind: 'i64', value: -sig };
    return { kind: 'f64', value: -Number(sig) };
  }

  fraction(start) {
    if (this.peek() === 0x2e) {
      this.i += 1;
      const from = this.i;
      this.skip(DIGITS);
      if (this.i === from) {
        if (this.peek() !== -1) throw this.peekError(INVALID_NUMBER);
        throw this.peekError(EOF_VALUE);
      }
    }
    const b = this.peek();
    if (b === 0x65 || b === 0x45) {
      this.i += 1;
      const sign = this.peek();
      if (sign === 0x2b || sign === 0x2d) this.i += 1;
      const d = this.next();
      if (d === -1) throw this.error(EOF_VALUE);
      if (!isDigit(d)) throw this.error(INVALID_NUMBER);
      this.skip(DIGITS);
    }
    const text = this.text.slice(start, this.i);
    const value = Number(text);
    if (!Number.isFinite(value)) throw this.error(NUMBER_OUT_OF_RANGE);
    return { kind: 'f64', value };
  }

  ignoreNumber() {
    const c = this.peek() === -1 ? 0 : this.next();
    if (c === 0x30) {
      if (isDigit(this.peek())) throw this.peekError(INVALID_NUMBER);
    } else if (c >= 0x31 && c <= 0x39) {
      this.skip(DIGITS);
    } else throw this.error(INVALID_NUMBER);
    if (this.peek() === 0x2e) {
      this.i += 1;
      const from = this.i;
      this.skip(DIGITS);
      if (this.i === from) throw this.peekError(INVALID_NUMBER);
    }
    const b = this.peek();
    if (b === 0x65 || b === 0x45) {
      this.i += 1;
      const sign = this.peek();
      if (sign === 0x2b || sign === 0x2d) this.i += 1;
      const d = this.peek() === -1 ? 0 : this.next();
      if (!isDigit(d)) throw this.error(INVALID_NUMBER);
      this.skip(DIGITS);
    }
  }

  // --- values of the wrong type, and values nobody reads

  // serde_json's peek_invalid_type: reads a scalar to name it; returns the error.
  invalidTypeHere(expected) {
    const b = this.peek();
    try {
      switch (b) {
        case 0x6e:
          this.i += 1;
          this.ident('ull');
          return this.fix(invalidType('null', null, expected));
        case 0x74:
          this.i += 1;
          this.ident('rue');
          return this.fix(invalidType('bool', true, expected));
        case 0x66:
          this.i += 1;
          this.ident('alse');
          return this.fix(invalidType('bool', false, expected));
        case 0x2d: {
          const start = this.i;
          this.i += 1;
          const n = this.integer(false, start);
          return this.fix(invalidType(n.kind, n.value, expected));
        }
        case 0x22:
          this.i += 1;
          return this.fix(invalidType('str', this.str(), expected));
        case 0x5b:
          return this.fix(invalidType('seq', null, expected));
        case 0x7b:
          return this.fix(invalidType('map', null, expected));
        default:
          if (isDigit(b)) {
            const n = this.integer(true, this.i);
            return this.fix(invalidType(n.kind, n.value, expected));
          }
          return this.peekError(EXPECTED_VALUE);
      }
    } catch (e) {
      return e;
    }
  }

  ignoreValue() {
    const stack = [];
    let enclosing = null;
    for (;;) {
      const b = this.whitespace();
      if (b === -1) throw this.peekError(EOF_VALUE);
      let frame = null;
      if (b === 0x6e) {
        this.i += 1;
        this.ident('ull');
      } else if (b === 0x74) {
        this.i += 1;
        this.ident('rue');
      } else if (b === 0x66) {
        this.i += 1;
        this.ident('alse');
      } else if (b === 0x2d) {
        this.i += 1;
        this.ignoreNumber();
      } else if (isDigit(b)) {
        this.ignoreNumber();
      } else if (b === 0x22) {
        this.i += 1;
        this.ignoreStr();
      } else if (b === 0x5b || b === 0x7b) {
        if (enclosing !== null) stack.push(enclosing);
        enclosing = null;
        this.i += 1;
        frame = b;
      } else throw this.peekError(EXPECTED_VALUE);

      let acceptComma;
      if (frame !== null) acceptComma = false;
      else if (enclosing !== null) {
        acceptComma = true;
        frame = enclosing;
        enclosing = null;
      } else if (stack.length > 0) {
        acceptComma = true;
        frame = stack.pop();
      } else return;

      for (;;) {
        const c = this.whitespace();
        if (c === 0x2c && acceptComma) {
          this.i += 1;
          break;
        } else if ((c === 0x5d && frame === 0x5b) || (c === 0x7d && frame === 0x7b)) {
          // the frame closes
        } else if (c !== -1) {
          if (acceptComma)
            throw this.peekError(frame === 0x5b ? EXPECTED_LIST_COMMA_OR_END : EXPECTED_OBJECT_COMMA_OR_END);
          break;
        } else throw this.peekError(frame === 0x5b ? EOF_LIST : EOF_OBJECT);
        this.i += 1;
        if (stack.length === 0) return;
        frame = stack.pop();
        acceptComma = true;
      }

      if (frame === 0x7b) {
        const k = this.whitespace();
        if (k === 0x22) this.i += 1;
        else if (k !== -1) throw this.peekError(KEY_MUST_BE_A_STRING);
        else throw this.peekError(EOF_OBJECT);
        this.ignoreStr();
        const colon = this.whitespace();
        if (colon === 0x3a) this.i += 1;
        else if (colon !== -1) throw this.peekError(EXPECTED_COLON);
        else throw this.peekError(EOF_OBJECT);
      }
      enclosing = frame;
    }
  }

  // --- typed values, as serde's derived Deserialize asks for them

  string() {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_VALUE);
    if (b === 0x22) {
      this.i += 1;
      return this.str();
    }
    throw this.invalidTypeHere('a string');
  }

  optionString() {
    if (this.whitespace() === 0x6e) {
      this.i += 1;
      this.ident('ull');
      return undefined;
    }
    return this.string();
  }

  bool() {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_VALUE);
    if (b === 0x74) {
      this.i += 1;
      this.ident('rue');
      return true;
    }
    if (b === 0x66) {
      this.i += 1;
      this.ident('alse');
      return false;
    }
    throw this.invalidTypeHere('a boolean');
  }

  number(expected) {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_VALUE);
    if (b === 0x2d) {
      const start = this.i;
      this.i += 1;
      return this.integer(false, start);
    }
    if (isDigit(b)) return this.integer(true, this.i);
    throw this.invalidTypeHere(expected);
  }

  u32() {
    const n = this.number('u32');
    if (n.kind === 'u64' && n.value <= U32_MAX) return Number(n.value);
    if (n.kind === 'f64') throw this.fix(invalidType('f64', n.value, 'u32'));
    throw this.fix(invalidValue(n.kind, n.value, 'u32'));
  }

  i64() {
    const n = this.number('i64');
    if (n.kind === 'i64' || (n.kind === 'u64' && n.value <= I64_MAX)) return n.value;
    if (n.kind === 'f64') throw this.fix(invalidType('f64', n.value, 'i64'));
    throw this.fix(invalidValue(n.kind, n.value, 'i64'));
  }

  // serde_json's `end_seq` / `end_map`, run after a struct or list even when it failed.
  endSeq() {
    const b = this.whitespace();
    if (b === 0x5d) {
      this.i += 1;
      return;
    }
    if (b === 0x2c) {
      this.i += 1;
      if (this.whitespace() === 0x5d) throw this.peekError(TRAILING_COMMA);
      throw this.peekError(TRAILING_CHARACTERS);
    }
    if (b !== -1) throw this.peekError(TRAILING_CHARACTERS);
    throw this.peekError(EOF_LIST);
  }

  endMap() {
    const b = this.whitespace();
    if (b === 0x7d) {
      this.i += 1;
      return;
    }
    if (b === 0x2c) throw this.peekError(TRAILING_COMMA);
    if (b !== -1) throw this.peekError(TRAILING_CHARACTERS);
    throw this.peekError(EOF_OBJECT);
  }

  // Runs `body`, then `end`, and reports the first error with its position filled in.
  closing(body, end) {
    let result;
    let err = null;
    try {
      result = body();
    } catch (e) {
      err = e;
    }
    try {
      end();
    } catch (e) {
      if (err === null) err = e;
    }
    if (err !== null) throw this.fix(err);
    return result;
  }

  // A sequence's elements: `first` tells whether a comma is due.
  hasNextElement(state) {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_LIST);
    if (b === 0x5d) return false;
    if (state.first) {
      state.first = false;
      return true;
    }
    if (b === 0x2c) {
      this.i += 1;
      const c = this.whitespace();
      if (c === 0x5d) throw this.peekError(TRAILING_COMMA);
      if (c === -1) throw this.peekError(EOF_VALUE);
      return true;
    }
    throw this.peekError(EXPECTED_LIST_COMMA_OR_END);
  }

  hasNextKey(state) {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_OBJECT);
    if (b === 0x7d) return false;
    if (state.first) {
      state.first = false;
      if (b === 0x22) return true;
      throw this.peekError(KEY_MUST_BE_A_STRING);
    }
    if (b === 0x2c) {
      this.i += 1;
      const c = this.whitespace();
      if (c === 0x22) return true;
      if (c === 0x7d) throw this.peekError(TRAILING_COMMA);
      if (c === -1) throw this.peekError(EOF_VALUE);
      throw this.peekError(KEY_MUST_BE_A_STRING);
    }
    throw this.peekError(EXPECTED_OBJECT_COMMA_OR_END);
  }

  colon() {
    const b = this.whitespace();
    if (b === 0x3a) {
      this.i += 1;
      return;
    }
    if (b !== -1) throw this.peekError(EXPECTED_COLON);
    throw this.peekError(EOF_OBJECT);
  }

  // A derived struct: `fields` is a list of [name, read, fallback], where `fallback` is
  // the value of a `#[serde(default)]` field (or an Option's None), or absent.
  struct(name, fields) {
    const b = this.whitespace();
    if (b === -1) throw this.peekError(EOF_VALUE);
    if (b === 0x5b) {
      this.i += 1;
      return this.closing(() => this.structSeq(name, fields), () => this.endSeq());
    }
    if (b === 0x7b) {
      this.i += 1;
      return this.closing(() => this.structMap(fields), () => this.endMap());
    }
    throw this.invalidTypeHere(`struct ${name}`);
  }

  structMap(fields) {
    const values = new Map();
    const state = { first: true };
    while (this.hasNextKey(state)) {
      this.i += 1;
      const key = this.str();
      const field = fields.find(([n]) => n === key);
      if (field === undefined) {
        this.colon();
        this.ignoreValue();
        continue;
      }
      if (values.has(key)) throw new DataError(`duplicate field \`${key}\``);
      this.colon();
      values.set(key, field[1]());
    }
    const out = {};
    for (const field of fields) {
      const [n, , ...fallback] = field;
      if (values.has(n)) out[n] = values.get(n);
      else if (fallback.length > 0) out[n] = fallback[0];
      else throw new DataError(`missing field \`${n}\``);
    }
    return out;
  }

  structSeq(name, fields) {
    const state = { first: true };
    const out = {};
    fields.forEach((field, index) => {
      const [n, read, ...fallback] = field;
      if (this.hasNextElement(state)) out[n] = read();
      else if (fallback.length > 0) out[n] = fallback[0];
      else
        throw new DataError(
          `invalid length ${index}, expected struct ${name} with ${fields.length} element${fields.length === 1 ? '' : 's'}`,
        );
    });
    return out;
  }
}

// serde_json::from_slice: one value, then only whitespace.
function fromSlice(bytes, text, read) {
  const r = new Reader(bytes, text);
  const value = read(r);
  r.end();
  return value;
}

// The venue SDK's `json::recover_event_id`: a best-effort look for `"field": "value"` in a
// payload that did not parse, so the host can still answer the device.
function recoverEventId(payload, text, field) {
  const start = text.indexOf(`"${field}"`);
  if (start < 0) return undefined;
  const colon = text.indexOf(':', start);
  if (colon < 0) return undefined;
  const open = text.indexOf('"', colon + 1);
  if (open < 0) return undefined;
  if (!/^[ \t\n\f\r]*$/.test(text.slice(colon + 1, open))) return undefined;
  const quote = text.indexOf('"', open + 1);
  const backslash = text.indexOf('\\', open + 1);
  const close = quote < 0 ? backslash : backslash < 0 ? quote : Math.min(quote, backslash);
  if (close < 0) return undefined;
  const idBytes = payload.subarray(open + 1, close);
  if (idBytes.length === 0 || idBytes.length > 128) return undefined;
  try {
    return utf8Checker.decode(idBytes);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// The adapter

class DecodeError {
  constructor(code, message, eventId) {
    this.code = code;
    this.message = message;
    this.eventId = eventId;
  }
}

const SCAN_FIELDS = [
  ['event_id', null],
  ['code', null],
  ['direction', null, 'in'],
  ['at', null],
  ['count', null, 1],
  ['id_number', null, undefined],
  ['offline', null, false],
];

function readScan(r) {
  const readers = {
    event_id: () => r.string(),
    code: () => r.string(),
    direction: () => r.string(),
    at: () => r.string(),
    count: () => r.u32(),
    id_number: () => r.optionString(),
    offline: () => r.bool(),
  };
  const fields = SCAN_FIELDS.map(([name, , ...fallback]) => [name, readers[name], ...fallback]);
  return r.struct('ScanJson', fields);
}

/** The longest ticket code the host accepts (its `ID_BYTES_MAX`). */
const CODE_BYTES_MAX = 128;

/** Bytes of `s` in UTF-8. */
function utf8Length(s) {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (n > CODE_BYTES_MAX) return n;
  }
  return n;
}

function decode(payload) {
  const text = latin1(payload);
  let parsed;
  try {
    parsed = fromSlice(payload, text, readScan);
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    throw new DecodeError('bad_json', `not a std-json scan: ${e.message}`, recoverEventId(payload, text, 'event_id'));
  }
  // The host takes codes of at most 128 bytes; a longer one is refused here, before the
  // engine copies a string of up to a megabyte out to the host (100-150 ms for 512 KiB).
  if (utf8Length(parsed.code) > CODE_BYTES_MAX)
    throw new DecodeError('bad_code', `code must be 1 to ${CODE_BYTES_MAX} bytes`, parsed.event_id);
  let direction;
  if (parsed.direction === 'in') direction = 'in';
  else if (parsed.direction === 'out') direction = 'out';
  else
    throw new DecodeError(
      'bad_direction',
      `direction must be "in" or "out", not ${rustDebugStr(parsed.direction)}`,
      parsed.event_id,
    );
  return {
    eventId: parsed.event_id,
    code: parsed.code,
    direction,
    at: parsed.at,
    count: parsed.count,
    idNumber: parsed.id_number,
    offline: parsed.offline,
  };
}

const REASONS = {
  ok: 'ok',
  'unknown-ticket': 'unknown_ticket',
  'already-used': 'already_used',
  'not-valid-today': 'not_valid_today',
  'outside-time-slot': 'outside_time_slot',
  refunded: 'refunded',
  rebooked: 'rebooked',
  passback: 'passback',
  'wrong-area': 'wrong_area',
  'capacity-full': 'capacity_full',
  'realname-mismatch': 'realname_mismatch',
  'bad-request': 'bad_request',
  'plugin-error': 'plugin_error',
};

function reasonName(reason) {
  const name = REASONS[reason];
  if (name === undefined) throw `unknown reason ${reason}`;
  return name;
}

const DECISIONS = { admit: 'admit', deny: 'deny' };

// serde_json's compact output: `JSON.stringify` escapes strings the same way (`\"`, `\\`,
// `\n`-style short escapes, `\u00XX` in lowercase for the other control characters).
const str = (s) => JSON.stringify(String(s));
const some = (v) => v !== undefined && v !== null;

function encode(v) {
  const decision = DECISIONS[v.decision];
  if (decision === undefined) throw `unknown decision ${v.decision}`;
  let out = `{"event_id":${str(v.eventId)},"decision":${str(decision)},"reason":${str(reasonName(v.reason))}`;
  if (some(v.ticketId)) out += `,"ticket_id":${str(v.ticketId)}`;
  out += `,"admitted":${BigInt(v.admitted)}`;
  if (some(v.entriesLeft)) out += `,"entries_left":${BigInt(v.entriesLeft)}`;
  out += `,"message":${str(v.message)}}`;
  return utf8Encoder.encode(out);
}

function encodeDelta(d) {
  const add = d.add.map((e) => {
    let entry = `{"code":${str(e.code)},"ticket_id":${str(e.ticketId)},"visit_date":${str(e.visitDate)}`;
    if (some(e.slot)) entry += `,"slot":${str(e.slot)}`;
    if (some(e.entries)) entry += `,"entries":${BigInt(e.entries)}`;
    return `${entry},"party_size":${BigInt(e.partySize)}}`;
  });
  const remove = d.remove.map(str);
  const out = `{"gate":${str(d.gate)},"seq":${BigInt(d.seq)},"add":[${add.join(',')}],"remove":[${remove.join(',')}]}`;
  return utf8Encoder.encode(out);
}

// `venue:edge/gate@1.1.0`. A function returning `result<T, E>` returns T, or throws E.
export const gate = {
  decodeScan(device, payload) {
    try {
      return decode(payload);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      log('debug', `${device}: refused a scan: ${e.code}: ${e.message}`);
      throw { code: e.code, message: e.message, eventId: e.eventId };
    }
  },

  encodeVerdict(_device, verdict) {
    return encode(verdict);
  },

  encodeWhitelist(_device, delta) {
    return encodeDelta(delta);
  },
};
