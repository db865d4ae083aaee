"""The `std-json` POS adapter in Python: terminals that speak the venue's reference sale
JSON (protocol.md, section 1) as it is. A port of plugins/std-json-pos/src/lib.rs, built
into a `pos-adapter` component with componentize-py (see build.sh).

Grants needed: `log`.

The Rust plugin decodes with serde_json into a derived struct. To accept and refuse
exactly the same payloads, this module carries a small decoder that follows serde_json's
rules rather than Python's `json`: integers and floats are told apart (`"qty":1.0` is
refused), u32 and i64 ranges are checked, duplicate known fields are refused, unknown
fields are skipped without checking their strings' UTF-8, an array in field order is
accepted as the struct (serde's sequence form), NaN and Infinity are not JSON, and errors
read like serde_json's (`missing field `at` at line 1 column 40`).
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import (
    Ack,
    AckStatus_Accepted,
    AckStatus_Rejected,
    DecodeError,
    Sale,
    SaleKind,
    SaleLine,
)

# ---------------------------------------------------------------------------------------
# serde_json's error messages and positions


class JsonError(Exception):
    """A serde_json error, with its position: `... at line L column C`."""


class DataError(Exception):
    """An error from a visitor (serde's `de::Error::custom`): it has no position yet."""


EOF_LIST = "EOF while parsing a list"
EOF_OBJECT = "EOF while parsing an object"
EOF_STRING = "EOF while parsing a string"
EOF_VALUE = "EOF while parsing a value"
EXPECTED_COLON = "expected `:`"
EXPECTED_LIST_COMMA_OR_END = "expected `,` or `]`"
EXPECTED_OBJECT_COMMA_OR_END = "expected `,` or `}`"
EXPECTED_IDENT = "expected ident"
EXPECTED_VALUE = "expected value"
INVALID_ESCAPE = "invalid escape"
INVALID_NUMBER = "invalid number"
NUMBER_OUT_OF_RANGE = "number out of range"
INVALID_UNICODE = "invalid unicode code point"
CONTROL_CHARACTER = "control character (\\u0000-\\u001F) found while parsing a string"
KEY_MUST_BE_A_STRING = "key must be a string"
LONE_LEADING_SURROGATE = "lone leading surrogate in hex escape"
TRAILING_COMMA = "trailing comma"
TRAILING_CHARACTERS = "trailing characters"
UNEXPECTED_END_OF_HEX_ESCAPE = "unexpected end of hex escape"

U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
I64_MAX = 0x7FFFFFFFFFFFFFFF
I64_MIN_MAGNITUDE = 0x8000000000000000

# Bytes: " \ / b f n r t u [ ] { } : , - . e E + 0 9
QUOTE, BACKSLASH, SLASH = 0x22, 0x5C, 0x2F
LBRACKET, RBRACKET, LBRACE, RBRACE, COLON, COMMA = 0x5B, 0x5D, 0x7B, 0x7D, 0x3A, 0x2C
MINUS, PLUS, DOT, LOWER_E, UPPER_E = 0x2D, 0x2B, 0x2E, 0x65, 0x45
SIMPLE_ESCAPES = {
    QUOTE: 0x22,
    BACKSLASH: 0x5C,
    SLASH: 0x2F,
    0x62: 0x08,
    0x66: 0x0C,
    0x6E: 0x0A,
    0x72: 0x0D,
    0x74: 0x09,
}


def is_digit(b):
    return 0x30 <= b <= 0x39


# Runs the reader moves past at once (the `re` module's C code is far quicker than a
# Python loop over a large payload's bytes).
WHITESPACE = re.compile(rb"[ \t\n\r]*")
DIGITS = re.compile(rb"[0-9]*")
PLAIN = re.compile(rb'[^"\\\x00-\x1f]*')


# Rust's `{:?}` of a str: quotes, the usual backslash escapes, `\u{..}` for characters
# that are not printable or that extend a grapheme. Rust escapes the general categories
# Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (but the space) and the Grapheme_Extend property. The
# code points come as a table (the same as plugins/js-gate's, which says how it was made,
# from Unicode 17.0): each entry is `gap.length` in base 36 (start = previous end + gap,
# end = start + length).
ESCAPED_TABLE = """
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
"""


def _escaped_ranges():
    starts, ends = [], []
    prev = 0
    for entry in ESCAPED_TABLE.split():
        gap, length = (int(t, 36) for t in entry.split("."))
        start = prev + gap
        prev = start + length
        starts.append(start)
        ends.append(prev)
    return starts, ends


ESCAPED_STARTS, ESCAPED_ENDS = _escaped_ranges()


def is_escaped_in_debug(cp):
    lo, hi = 0, len(ESCAPED_STARTS) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if cp < ESCAPED_STARTS[mid]:
            hi = mid - 1
        elif cp > ESCAPED_ENDS[mid]:
            lo = mid + 1
        else:
            return True
    return False


DEBUG_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}


def rust_debug_str(s):
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch in DEBUG_ESCAPES:
            out.append(DEBUG_ESCAPES[ch])
        elif cp != 0x20 and is_escaped_in_debug(cp):
            out.append("\\u{%x}" % cp)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_float(x):
    """serde_json prints floats with zmij: shortest digits, fixed notation for decimal
    exponents -5..=15 (`1.0`, `0.00001`, `544431068535091.6`), otherwise `1.5e+16`, `1e-7`."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign = "-" if x < 0 else ""
    text = repr(abs(x))
    mantissa, _, exp_text = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    exp = (int(exp_text) if exp_text else 0) + len(whole) - 1
    stripped = digits.lstrip("0")
    exp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    if -5 <= exp <= 15:
        if exp < 0:
            return sign + "0." + "0" * (-exp - 1) + digits
        if len(digits) <= exp + 1:
            return sign + digits + "0" * (exp + 1 - len(digits)) + ".0"
        return sign + digits[: exp + 1] + "." + digits[exp + 1 :]
    head = digits[0] + "." + digits[1:] if len(digits) > 1 else digits
    return "%s%se%s%d" % (sign, head, "+" if exp >= 0 else "-", abs(exp))


def unexpected(kind, value):
    """serde's `Unexpected`, as serde_json prints it."""
    if kind == "null":
        return "null"
    if kind == "bool":
        return "boolean `%s`" % ("true" if value else "false")
    if kind in ("u64", "i64"):
        return "integer `%d`" % value
    if kind == "f64":
        return "floating point `%s`" % format_float(value)
    if kind == "str":
        return "string " + rust_debug_str(value)
    if kind == "seq":
        return "sequence"
    return "map"


def invalid_type(kind, value, expected):
    return DataError("invalid type: %s, expected %s" % (unexpected(kind, value), expected))


def invalid_value(kind, value, expected):
    return DataError("invalid value: %s, expected %s" % (unexpected(kind, value), expected))


def utf8_valid_up_to(data):
    """Rust's `str::from_utf8`: the length of the valid prefix of `data`."""
    try:
        data.decode("utf-8")
        return len(data)
    except UnicodeDecodeError as e:
        return e.start


# ---------------------------------------------------------------------------------------
# A reader over the payload's bytes, after serde_json's `Deserializer<SliceRead>`


class Reader:
    def __init__(self, data):
        self.s = data
        self.n = len(data)
        self.i = 0

    def peek(self):
        return self.s[self.i] if self.i < self.n else -1

    def next(self):
        if self.i < self.n:
            self.i += 1
            return self.s[self.i - 1]
        return -1

    def position_of(self, index):
        start = self.s.rfind(b"\n", 0, index) + 1
        line = 1 + self.s.count(b"\n", 0, start)
        return line, index - start

    def error(self, message):
        """An error caused by a byte from next(): at the current index."""
        line, column = self.position_of(self.i)
        return JsonError("%s at line %d column %d" % (message, line, column))

    def peek_error(self, message):
        """An error caused by a byte from peek(): one past the current index."""
        line, column = self.position_of(min(self.n, self.i + 1))
        return JsonError("%s at line %d column %d" % (message, line, column))

    def fix(self, err):
        return self.error(str(err)) if isinstance(err, DataError) else err

    def whitespace(self):
        i = self.i
        if i >= self.n:
            return -1
        b = self.s[i]
        if b != 0x20 and b != 0x0A and b != 0x09 and b != 0x0D:
            return b
        i = WHITESPACE.match(self.s, i).end()
        self.i = i
        return self.s[i] if i < self.n else -1

    def skip_digits(self):
        self.i = DIGITS.match(self.s, self.i).end()

    def end(self):
        if self.whitespace() != -1:
            raise self.peek_error(TRAILING_CHARACTERS)

    def ident(self, rest):
        for expected in rest:
            b = self.next()
            if b == -1:
                raise self.error(EOF_VALUE)
            if b != expected:
                raise self.error(EXPECTED_IDENT)

    # --- strings

    def hex4(self):
        if self.n - self.i < 4:
            self.i = self.n
            raise self.error(EOF_STRING)
        n = 0
        for k in range(4):
            b = self.s[self.i + k]
            if 0x30 <= b <= 0x39:
                v = b - 0x30
            elif 0x61 <= b <= 0x66:
                v = b - 0x61 + 10
            elif 0x41 <= b <= 0x46:
                v = b - 0x41 + 10
            else:
                self.i += 4
                raise self.error(INVALID_ESCAPE)
            n = n * 16 + v
        self.i += 4
        return n

    def next_or_eof(self):
        b = self.next()
        if b == -1:
            raise self.error(EOF_STRING)
        return b

    def peek_or_eof(self):
        b = self.peek()
        if b == -1:
            raise self.error(EOF_STRING)
        return b

    def str_bytes(self):
        """After an opening quote: the string's bytes, escapes resolved."""
        out = bytearray()
        while True:
            j = PLAIN.match(self.s, self.i).end()
            out += self.s[self.i : j]
            self.i = j
            b = self.peek()
            if b == -1:
                raise self.error(EOF_STRING)
            if b == QUOTE:
                self.i += 1
                return bytes(out)
            if b == BACKSLASH:
                self.i += 1
                self.escape(out)
            else:
                self.i += 1
                raise self.error(CONTROL_CHARACTER)

    def escape(self, out):
        c = self.next_or_eof()
        if c in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[c])
            return
        if c != 0x75:
            raise self.error(INVALID_ESCAPE)
        n = self.hex4()
        if 0xDC00 <= n <= 0xDFFF:
            raise self.error(LONE_LEADING_SURROGATE)
        if n < 0xD800 or n > 0xDBFF:
            out += chr(n).encode("utf-8")
            return
        if self.peek_or_eof() == BACKSLASH:
            self.i += 1
        else:
            self.i += 1
            raise self.error(UNEXPECTED_END_OF_HEX_ESCAPE)
        if self.peek_or_eof() == 0x75:
            self.i += 1
        else:
            self.i += 1
            raise self.error(UNEXPECTED_END_OF_HEX_ESCAPE)
        n2 = self.hex4()
        if n2 < 0xDC00 or n2 > 0xDFFF:
            raise self.error(LONE_LEADING_SURROGATE)
        out += chr((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000).encode("utf-8")

    def string_body(self):
        """After an opening quote: the string, which must be UTF-8."""
        data = self.str_bytes()
        valid = utf8_valid_up_to(data)
        if valid < len(data):
            # serde_json points at the first bad byte, counting back from the closing quote.
            line, column = self.position_of(self.i)
            column = max(0, column - (len(data) - valid))
            raise JsonError("%s at line %d column %d" % (INVALID_UNICODE, line, column))
        return data.decode("utf-8")

    def ignore_str(self):
        """After an opening quote, for a value nobody reads: no UTF-8 or surrogate checks."""
        while True:
            self.i = PLAIN.match(self.s, self.i).end()
            b = self.peek()
            if b == -1:
                raise self.error(EOF_STRING)
            if b == QUOTE:
                self.i += 1
                return
            if b == BACKSLASH:
                self.i += 1
                c = self.next_or_eof()
                if c == 0x75:
                    self.hex4()
                elif c not in SIMPLE_ESCAPES:
                    raise self.error(INVALID_ESCAPE)
            else:
                raise self.error(CONTROL_CHARACTER)

    # --- numbers

    def integer(self, positive, start):
        """After an optional '-': (kind, value), kind one of u64, i64, f64."""
        c = self.next()
        if c == -1:
            raise self.error(EOF_VALUE)
        if c == 0x30:
            if is_digit(self.peek()):
                raise self.peek_error(INVALID_NUMBER)
            sig = 0
        elif 0x31 <= c <= 0x39:
            sig = c - 0x30
            while is_digit(self.peek()):
                nxt = sig * 10 + (self.peek() - 0x30)
                if nxt > U64_MAX:
                    # Too long for u64: the rest is read as a float.
                    self.skip_digits()
                    return self.fraction(start)
                sig = nxt
                self.i += 1
        else:
            raise self.error(INVALID_NUMBER)
        if self.peek() in (DOT, LOWER_E, UPPER_E):
            return self.fraction(start)
        if positive:
            return "u64", sig
        if sig == 0:
            return "f64", -0.0
        if sig <= I64_MIN_MAGNITUDE:
            return "i64", -sig
        return "f64", -float(sig)

    def fraction(self, start):
        if self.peek() == DOT:
            self.i += 1
            begin = self.i
            self.skip_digits()
            if self.i == begin:
                if self.peek() != -1:
                    raise self.peek_error(INVALID_NUMBER)
                raise self.peek_error(EOF_VALUE)
        if self.peek() in (LOWER_E, UPPER_E):
            self.i += 1
            if self.peek() in (PLUS, MINUS):
                self.i += 1
            d = self.next()
            if d == -1:
                raise self.error(EOF_VALUE)
            if not is_digit(d):
                raise self.error(INVALID_NUMBER)
            self.skip_digits()
        value = float(self.s[start : self.i].decode("ascii"))
        if value in (float("inf"), float("-inf")):
            raise self.error(NUMBER_OUT_OF_RANGE)
        return "f64", value

    def ignore_number(self):
        c = 0 if self.peek() == -1 else self.next()
        if c == 0x30:
            if is_digit(self.peek()):
                raise self.peek_error(INVALID_NUMBER)
        elif 0x31 <= c <= 0x39:
            self.skip_digits()
        else:
            raise self.error(INVALID_NUMBER)
        if self.peek() == DOT:
            self.i += 1
            begin = self.i
            self.skip_digits()
            if self.i == begin:
                raise self.peek_error(INVALID_NUMBER)
        if self.peek() in (LOWER_E, UPPER_E):
            self.i += 1
            if self.peek() in (PLUS, MINUS):
                self.i += 1
            d = 0 if self.peek() == -1 else self.next()
            if not is_digit(d):
                raise self.error(INVALID_NUMBER)
            self.skip_digits()

    # --- values of the wrong type, and values nobody reads

    def invalid_type_here(self, expected):
        """serde_json's peek_invalid_type: reads a scalar to name it; returns the error."""
        b = self.peek()
        try:
            if b == 0x6E:
                self.i += 1
                self.ident(b"ull")
                return self.fix(invalid_type("null", None, expected))
            if b == 0x74:
                self.i += 1
                self.ident(b"rue")
                return self.fix(invalid_type("bool", True, expected))
            if b == 0x66:
                self.i += 1
                self.ident(b"alse")
                return self.fix(invalid_type("bool", False, expected))
            if b == MINUS:
                start = self.i
                self.i += 1
                kind, value = self.integer(False, start)
                return self.fix(invalid_type(kind, value, expected))
            if is_digit(b):
                kind, value = self.integer(True, self.i)
                return self.fix(invalid_type(kind, value, expected))
            if b == QUOTE:
                self.i += 1
                return self.fix(invalid_type("str", self.string_body(), expected))
            if b == LBRACKET:
                return self.fix(invalid_type("seq", None, expected))
            if b == LBRACE:
                return self.fix(invalid_type("map", None, expected))
            return self.peek_error(EXPECTED_VALUE)
        except JsonError as e:
            return e

    def ignore_value(self):
        stack = []
        enclosing = None
        while True:
            b = self.whitespace()
            if b == -1:
                raise self.peek_error(EOF_VALUE)
            frame = None
            if b == 0x6E:
                self.i += 1
                self.ident(b"ull")
            elif b == 0x74:
                self.i += 1
                self.ident(b"rue")
            elif b == 0x66:
                self.i += 1
                self.ident(b"alse")
            elif b == MINUS:
                self.i += 1
                self.ignore_number()
            elif is_digit(b):
                self.ignore_number()
            elif b == QUOTE:
                self.i += 1
                self.ignore_str()
            elif b in (LBRACKET, LBRACE):
                if enclosing is not None:
                    stack.append(enclosing)
                enclosing = None
                self.i += 1
                frame = b
            else:
                raise self.peek_error(EXPECTED_VALUE)

            if frame is not None:
                accept_comma = False
            elif enclosing is not None:
                accept_comma = True
                frame, enclosing = enclosing, None
            elif stack:
                accept_comma = True
                frame = stack.pop()
            else:
                return

            while True:
                c = self.whitespace()
                if c == COMMA and accept_comma:
                    self.i += 1
                    break
                elif (c == RBRACKET and frame == LBRACKET) or (c == RBRACE and frame == LBRACE):
                    pass  # the frame closes
                elif c != -1:
                    if accept_comma:
                        raise self.peek_error(
                            EXPECTED_LIST_COMMA_OR_END if frame == LBRACKET else EXPECTED_OBJECT_COMMA_OR_END
                        )
                    break
                else:
                    raise self.peek_error(EOF_LIST if frame == LBRACKET else EOF_OBJECT)
                self.i += 1
                if not stack:
                    return
                frame = stack.pop()
                accept_comma = True

            if frame == LBRACE:
                k = self.whitespace()
                if k == QUOTE:
                    self.i += 1
                elif k != -1:
                    raise self.peek_error(KEY_MUST_BE_A_STRING)
                else:
                    raise self.peek_error(EOF_OBJECT)
                self.ignore_str()
                colon = self.whitespace()
                if colon == COLON:
                    self.i += 1
                elif colon != -1:
                    raise self.peek_error(EXPECTED_COLON)
                else:
                    raise self.peek_error(EOF_OBJECT)
            enclosing = frame

    # --- typed values, as serde's derived Deserialize asks for them

    def string(self):
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_VALUE)
        if b == QUOTE:
            self.i += 1
            return self.string_body()
        raise self.invalid_type_here("a string")

    def option_string(self):
        if self.whitespace() == 0x6E:
            self.i += 1
            self.ident(b"ull")
            return None
        return self.string()

    def number(self, expected):
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_VALUE)
        if b == MINUS:
            start = self.i
            self.i += 1
            return self.integer(False, start)
        if is_digit(b):
            return self.integer(True, self.i)
        raise self.invalid_type_here(expected)

    def u32(self):
        kind, value = self.number("u32")
        if kind == "u64" and value <= U32_MAX:
            return value
        if kind == "f64":
            raise self.fix(invalid_type("f64", value, "u32"))
        raise self.fix(invalid_value(kind, value, "u32"))

    def i64(self):
        kind, value = self.number("i64")
        if kind == "i64" or (kind == "u64" and value <= I64_MAX):
            return value
        if kind == "f64":
            raise self.fix(invalid_type("f64", value, "i64"))
        raise self.fix(invalid_value(kind, value, "i64"))

    def end_seq(self):
        b = self.whitespace()
        if b == RBRACKET:
            self.i += 1
            return
        if b == COMMA:
            self.i += 1
            if self.whitespace() == RBRACKET:
                raise self.peek_error(TRAILING_COMMA)
            raise self.peek_error(TRAILING_CHARACTERS)
        if b != -1:
            raise self.peek_error(TRAILING_CHARACTERS)
        raise self.peek_error(EOF_LIST)

    def end_map(self):
        b = self.whitespace()
        if b == RBRACE:
            self.i += 1
            return
        if b == COMMA:
            raise self.peek_error(TRAILING_COMMA)
        if b != -1:
            raise self.peek_error(TRAILING_CHARACTERS)
        raise self.peek_error(EOF_OBJECT)

    def closing(self, body, end):
        """Runs `body`, then `end` (serde_json's end_seq/end_map run even after a failure),
        and reports the first error with its position filled in."""
        err = None
        result = None
        try:
            result = body()
        except (JsonError, DataError) as e:
            err = e
        try:
            end()
        except JsonError as e:
            if err is None:
                err = e
        if err is not None:
            raise self.fix(err)
        return result

    def has_next_element(self, state):
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_LIST)
        if b == RBRACKET:
            return False
        if state["first"]:
            state["first"] = False
            return True
        if b == COMMA:
            self.i += 1
            c = self.whitespace()
            if c == RBRACKET:
                raise self.peek_error(TRAILING_COMMA)
            if c == -1:
                raise self.peek_error(EOF_VALUE)
            return True
        raise self.peek_error(EXPECTED_LIST_COMMA_OR_END)

    def has_next_key(self, state):
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_OBJECT)
        if b == RBRACE:
            return False
        if state["first"]:
            state["first"] = False
            if b == QUOTE:
                return True
            raise self.peek_error(KEY_MUST_BE_A_STRING)
        if b == COMMA:
            self.i += 1
            c = self.whitespace()
            if c == QUOTE:
                return True
            if c == RBRACE:
                raise self.peek_error(TRAILING_COMMA)
            if c == -1:
                raise self.peek_error(EOF_VALUE)
            raise self.peek_error(KEY_MUST_BE_A_STRING)
        raise self.peek_error(EXPECTED_OBJECT_COMMA_OR_END)

    def colon(self):
        b = self.whitespace()
        if b == COLON:
            self.i += 1
            return
        if b != -1:
            raise self.peek_error(EXPECTED_COLON)
        raise self.peek_error(EOF_OBJECT)

    def seq(self, read, expected):
        """A `Vec<T>`."""
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_VALUE)
        if b == LBRACKET:
            self.i += 1

            def elements():
                out = []
                state = {"first": True}
                while self.has_next_element(state):
                    out.append(read())
                return out

            return self.closing(elements, self.end_seq)
        raise self.invalid_type_here(expected)

    def struct(self, name, fields):
        """A derived struct. `fields` is a list of (name, read) or (name, read, fallback),
        the fallback being a `#[serde(default)]` field's value (or an Option's None)."""
        b = self.whitespace()
        if b == -1:
            raise self.peek_error(EOF_VALUE)
        if b == LBRACKET:
            self.i += 1
            return self.closing(lambda: self.struct_seq(name, fields), self.end_seq)
        if b == LBRACE:
            self.i += 1
            return self.closing(lambda: self.struct_map(fields), self.end_map)
        raise self.invalid_type_here("struct " + name)

    def struct_map(self, fields):
        by_name = {f[0]: f for f in fields}
        values = {}
        state = {"first": True}
        while self.has_next_key(state):
            self.i += 1
            key = self.string_body()
            field = by_name.get(key)
            if field is None:
                self.colon()
                self.ignore_value()
                continue
            if key in values:
                raise DataError("duplicate field `%s`" % key)
            self.colon()
            values[key] = field[1]()
        out = {}
        for field in fields:
            if field[0] in values:
                out[field[0]] = values[field[0]]
            elif len(field) > 2:
                out[field[0]] = field[2]
            else:
                raise DataError("missing field `%s`" % field[0])
        return out

    def struct_seq(self, name, fields):
        state = {"first": True}
        out = {}
        for index, field in enumerate(fields):
            if self.has_next_element(state):
                out[field[0]] = field[1]()
            elif len(field) > 2:
                out[field[0]] = field[2]
            else:
                raise DataError(
                    "invalid length %d, expected struct %s with %d element%s"
                    % (index, name, len(fields), "" if len(fields) == 1 else "s")
                )
        return out


def from_slice(data, read):
    """serde_json::from_slice: one value, then only whitespace."""
    r = Reader(data)
    value = read(r)
    r.end()
    return value


def recover_event_id(payload, field):
    """The venue SDK's `json::recover_event_id`: a best-effort look for
    `"field": "value"` in a payload that did not parse, so the host can still answer."""
    start = payload.find(('"%s"' % field).encode("utf-8"))
    if start < 0:
        return None
    rest = payload[start:]
    colon = rest.find(b":")
    if colon < 0:
        return None
    after = rest[colon + 1 :]
    open_ = after.find(b'"')
    if open_ < 0:
        return None
    if any(b not in b" \t\n\x0c\r" for b in after[:open_]):
        return None
    value = after[open_ + 1 :]
    close = next((k for k, b in enumerate(value) if b in (QUOTE, BACKSLASH)), -1)
    if close < 0:
        return None
    raw = value[:close]
    if utf8_valid_up_to(raw) < len(raw) or not 0 < len(raw) <= 128:
        return None
    return raw.decode("utf-8")


# ---------------------------------------------------------------------------------------
# The adapter


class Refused(Exception):
    def __init__(self, code, message, event_id):
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id


def read_line(r):
    return r.struct(
        "LineJson",
        [
            ("sku", r.string),
            ("category", r.string),
            ("qty", r.u32),
            ("unit_price_fen", r.i64),
        ],
    )


def read_sale(r):
    return r.struct(
        "SaleJson",
        [
            ("event_id", r.string),
            ("merchant", r.string),
            ("kind", r.string),
            ("refers_to", r.option_string, None),
            ("at", r.string),
            ("payment", r.string, ""),
            ("lines", lambda: r.seq(lambda: read_line(r), "a sequence"), []),
            ("total_fen", r.i64),
            # The ticket the visitor paid with, in a park with a one-code wallet (1.1.0).
            ("ticket_code", r.option_string, None),
        ],
    )


KINDS = {"sale": SaleKind.SALE, "refund": SaleKind.REFUND, "void": SaleKind.VOID}


# Brackets a sale may hold at most: one per line and a few more. Counted (at C speed)
# before parsing, so a payload nested a hundred thousand deep is refused within the
# host's deadline instead of being walked by the interpreter.
BRACKETS_MAX = 10_000


def decode(payload):
    if payload.count(b"{") + payload.count(b"[") > BRACKETS_MAX:
        raise Refused(
            "bad_json",
            "not a std-json sale: more than %d brackets" % BRACKETS_MAX,
            recover_event_id(payload, "event_id"),
        )
    try:
        s = from_slice(payload, read_sale)
    except JsonError as e:
        raise Refused("bad_json", "not a std-json sale: %s" % e, recover_event_id(payload, "event_id"))
    kind = KINDS.get(s["kind"])
    if kind is None:
        raise Refused(
            "bad_kind",
            "kind must be sale, refund or void, not %s" % rust_debug_str(s["kind"]),
            s["event_id"],
        )
    return Sale(
        event_id=s["event_id"],
        merchant=s["merchant"],
        kind=kind,
        refers_to=s["refers_to"],
        at=s["at"],
        payment=s["payment"],
        lines=[
            SaleLine(
                sku=line["sku"],
                category=line["category"],
                qty=line["qty"],
                unit_price_fen=line["unit_price_fen"],
            )
            for line in s["lines"]
        ],
        total_fen=s["total_fen"],
        # An empty code is a terminal that has none to give, not a code.
        ticket_code=s["ticket_code"] or None,
    )


def json_str(s):
    # serde_json escapes as json.dumps(ensure_ascii=False) does: \" \\ \n-style short
    # escapes, \u00XX in lowercase for the other control characters, nothing else.
    return json.dumps(s, ensure_ascii=False)


def encode(ack):
    # serde_json::json! builds a map with sorted keys (serde_json without preserve_order).
    if isinstance(ack.status, AckStatus_Accepted):
        text = '{"event_id":%s,"status":"accepted"}' % json_str(ack.event_id)
    elif isinstance(ack.status, AckStatus_Rejected):
        text = '{"error":%s,"event_id":%s,"status":"rejected"}' % (
            json_str(ack.status.value),
            json_str(ack.event_id),
        )
    else:
        raise Err("unknown ack status %r" % (ack.status,))
    return text.encode("utf-8")


class Pos(exports.Pos):
    """`venue:edge/pos@1.1.0`. A function returning `result<T, E>` returns T, or raises
    `Err(E)`."""

    def decode_sale(self, device: str, payload: bytes) -> Sale:
        try:
            return decode(bytes(payload))
        except Refused as e:
            log.log(log.Level.DEBUG, "%s: refused a sale: %s: %s" % (device, e.code, e.message))
            raise Err(DecodeError(code=e.code, message=e.message, event_id=e.event_id))

    def encode_ack(self, device: str, ack: Ack) -> bytes:
        return encode(ack)
