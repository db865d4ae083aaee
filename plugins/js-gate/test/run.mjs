// Tests for the js-gate component: transpiles the built component with jco and runs it in
// Node. Fixed cases from std-json-gate's unit tests always run; when the Rust reference
// (target/wasm32-wasip2/plugin/plugin_std_json_gate.wasm) is built, a corpus of payloads
// (edge cases, 3,000 random mutations, every code point) and encoder inputs also runs
// through both components, and their answers and log lines must be the same.
//
// Usage: node plugins/js-gate/test/run.mjs   (after build.sh)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = dirname(here);
const root = dirname(dirname(pluginDir));
const built = join(root, 'target/wasm32-wasip2/plugin');
const jsWasm = join(built, 'plugin_js_gate.wasm');
const rsWasm = join(built, 'plugin_std_json_gate.wasm');
if (!existsSync(jsWasm)) {
  console.error(`${jsWasm} is missing: run plugins/js-gate/build.sh first`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'js-gate-test-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
symlinkSync(join(pluginDir, 'node_modules'), join(work, 'node_modules'));
copyFileSync(join(here, 'host-shim.js'), join(work, 'host-shim.js'));
const maps = ['log@1.0.0', 'log@1.1.0', 'clock@1.0.0', 'clock@1.1.0', 'config@1.0.0', 'config@1.1.0', 'kv@1.0.0', 'kv@1.1.0'].flatMap(
  (i) => ['-M', `venue:edge/${i}=../host-shim.js`],
);
function transpile(wasm, name) {
  execFileSync(join(pluginDir, 'node_modules/.bin/jco'), ['transpile', wasm, '-o', join(work, name), '--name', name, '--no-typescript', '-q', ...maps], { stdio: 'inherit' });
  return import(join(work, name, `${name}.js`));
}

const shim = await import(join(work, 'host-shim.js'));
const js = (await transpile(jsWasm, 'js')).gate;
const rs = existsSync(rsWasm) ? (await transpile(rsWasm, 'rs')).gate : null;

const enc = new TextEncoder();
const dec = new TextDecoder();
const show = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
const call = (f) => {
  shim.logged.length = 0;
  let r;
  try {
    r = { ok: f() };
  } catch (e) {
    r = { err: e.payload ?? String(e) };
  }
  r.logs = shim.logged.slice();
  return r;
};
let n = 0;
let bad = 0;
function check(label, want, got) {
  n++;
  if (!isDeepStrictEqual(want, got)) {
    bad++;
    if (bad <= 40) console.log(`MISMATCH ${label}\n  want: ${show(want)}\n  got:  ${show(got)}`);
  }
}

// --- fixed cases (std-json-gate's unit tests, and answers the Rust plugin gave)
{
  const s = js.decodeScan('g7', enc.encode('{"event_id":"g7-000123","code":"TK5Q3V","at":"2026-11-25T09:00:00+08:00"}'));
  check('reference scan', { eventId: 'g7-000123', code: 'TK5Q3V', direction: 'in', at: '2026-11-25T09:00:00+08:00', count: 1, idNumber: undefined, offline: false }, s);
  check('broken json keeps its event id', {
    err: { code: 'bad_json', message: 'not a std-json scan: EOF while parsing a value at line 1 column 26', eventId: 'g7-9' },
    logs: [['debug', 'g7: refused a scan: bad_json: not a std-json scan: EOF while parsing a value at line 1 column 26']],
  }, call(() => js.decodeScan('g7', enc.encode('{"event_id":"g7-9","code":'))));
  check('bad direction', {
    err: { code: 'bad_direction', message: 'direction must be "in" or "out", not "up"', eventId: 'x' },
    logs: [['debug', 'g7: refused a scan: bad_direction: direction must be "in" or "out", not "up"']],
  }, call(() => js.decodeScan('g7', enc.encode('{"event_id":"x","code":"c","at":"a","direction":"up"}'))));
  check('a float count', 'not a std-json scan: invalid type: floating point `1.0`, expected u32 at line 1 column 47',
    call(() => js.decodeScan('g7', enc.encode('{"event_id":"e","code":"c","at":"a","count":1.0}'))).err.message);
  const v = { eventId: 'g7-1', decision: 'deny', reason: 'already-used', ticketId: 't1', admitted: 0, entriesLeft: 0, message: 'm' };
  check('verdict', '{"event_id":"g7-1","decision":"deny","reason":"already_used","ticket_id":"t1","admitted":0,"entries_left":0,"message":"m"}', dec.decode(js.encodeVerdict('g7', v)));
  const d = { gate: 'g7', seq: 18446744073709551615n, add: [{ code: 'c', ticketId: 't', visitDate: '2026-11-25', slot: undefined, entries: 2, partySize: 1 }], remove: ['x'] };
  check('whitelist', '{"gate":"g7","seq":18446744073709551615,"add":[{"code":"c","ticket_id":"t","visit_date":"2026-11-25","entries":2,"party_size":1}],"remove":["x"]}', dec.decode(js.encodeWhitelist('g7', d)));
}

// --- the same answers as the Rust reference
function compareWithRust() {
const bytesOf = (p) => (typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p));
function scan(p) {
  const b = bytesOf(p);
  const label = typeof p === 'string' ? p.slice(0, 200) : `bytes ${Buffer.from(b).toString('hex')}`;
  check(label, call(() => rs.decodeScan('dev', b.slice())), call(() => js.decodeScan('dev', b.slice())));
}

const base = '{"event_id":"g7-000123","code":"TK5Q3V","at":"2026-11-25T09:00:00+08:00"}';
const cases = [
  base, '', ' ', '{}', '[]', 'null', 'true', '12', '"s"', '{"event_id":"e"}',
  '{"event_id":"e","code":"c","at":"a","direction":"out","count":3,"id_number":"110","offline":true}',
  '{"event_id":"e","code":"c","at":"a","direction":"up"}',
  '{"event_id":"e","code":"c","at":"a","direction":"IN"}',
  '{"event_id":"e","code":"c","at":"a","direction":null}',
  '{"event_id":"e","code":"c","at":"a","count":1.0}',
  '{"event_id":"e","code":"c","at":"a","count":1e0}',
  '{"event_id":"e","code":"c","at":"a","count":-1}',
  '{"event_id":"e","code":"c","at":"a","count":-0}',
  '{"event_id":"e","code":"c","at":"a","count":4294967295}',
  '{"event_id":"e","code":"c","at":"a","count":4294967296}',
  '{"event_id":"e","code":"c","at":"a","count":18446744073709551615}',
  '{"event_id":"e","code":"c","at":"a","count":18446744073709551616}',
  '{"event_id":"e","code":"c","at":"a","count":-9223372036854775808}',
  '{"event_id":"e","code":"c","at":"a","count":-9223372036854775809}',
  '{"event_id":"e","code":"c","at":"a","count":1e400}',
  '{"event_id":"e","code":"c","at":"a","count":0.1}',
  '{"event_id":"e","code":"c","at":"a","count":123456789012345678.5}',
  '{"event_id":"e","code":"c","at":"a","count":1.5e-7}',
  '{"event_id":"e","code":"c","at":"a","count":0.00001}',
  '{"event_id":"e","code":"c","at":"a","count":1e15}',
  '{"event_id":"e","code":"c","at":"a","count":1e16}',
  '{"event_id":"e","code":"c","at":"a","count":"1"}',
  '{"event_id":"e","code":"c","at":"a","count":null}',
  '{"event_id":"e","code":"c","at":"a","count":[1]}',
  '{"event_id":"e","code":"c","at":"a","count":{}}',
  '{"event_id":"e","code":"c","at":"a","count":01}',
  '{"event_id":"e","code":"c","at":"a","count":1.}',
  '{"event_id":"e","code":"c","at":"a","count":1.e5}',
  '{"event_id":"e","code":"c","at":"a","count":1e}',
  '{"event_id":"e","code":"c","at":"a","count":1e+}',
  '{"event_id":"e","code":"c","at":"a","count":-}',
  '{"event_id":"e","code":"c","at":"a","count":-x}',
  '{"event_id":"e","code":"c","at":"a","count":+1}',
  '{"event_id":"e","code":"c","at":"a","offline":1}',
  '{"event_id":"e","code":"c","at":"a","offline":"true"}',
  '{"event_id":"e","code":"c","at":"a","offline":nul}',
  '{"event_id":"e","code":"c","at":"a","offline":tru',
  '{"event_id":"e","code":"c","at":"a","offline":fals}',
  '{"event_id":"e","code":"c","at":"a","id_number":null}',
  '{"event_id":"e","code":"c","at":"a","id_number":5}',
  '{"event_id":"e","code":"c","at":"a","id_number":""}',
  '{"event_id":12,"code":"c","at":"a"}',
  '{"event_id":"e","code":"c","code":"d","at":"a"}',
  '{"event_id":"e","code":"c" , "code" : "d","at":"a"}',
  '{"event_id":"e","code":"c","at":"a",}',
  '{"event_id":"e","code":"c","at":"a"} x',
  '{"event_id":"e","code":"c","at":"a"}   ',
  '{"event_id":"e","code":"c","at":"a"}\n\n{',
  '{"event_id":"e","code":"c","at":"a" "x":1}',
  '{"event_id":"e","code":"c","at":"a",1:2}',
  '{1:2}',
  '{"event_id" "e"}',
  '{"event_id":"e","extra":{"a":[1,2,{"b":null}],"c":"\\ud800"},"code":"c","at":"a"}',
  '{"event_id":"e","extra":[1,2,,3],"code":"c","at":"a"}',
  '{"event_id":"e","extra":{"a" 1},"code":"c","at":"a"}',
  '{"event_id":"e","extra":{"a":1,},"code":"c","at":"a"}',
  '{"event_id":"e","extra":[1 2],"code":"c","at":"a"}',
  '{"event_id":"e","extra":-,"code":"c","at":"a"}',
  '{"event_id":"e","extra":-',
  '{"event_id":"e","extra":1.,"code":"c","at":"a"}',
  '{"event_id":"e","extra":1e,"code":"c","at":"a"}',
  '{"event_id":"e","extra":01,"code":"c","at":"a"}',
  '{"event_id":"e","extra":1e999,"code":"c","at":"a"}',
  '{"event_id":"e","extra":"\\x","code":"c","at":"a"}',
  '{"event_id":"e","extra":"a\tb","code":"c","at":"a"}',
  '{"event_id":"e","extra":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],"code":"c","at":"a"}',
  '{"event_id":"e","code":"c\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/\\b\\f\\r","at":"a"}',
  '{"event_id":"e","code":"\\ud800","at":"a"}',
  '{"event_id":"e","code":"\ufeffX","at":"a"}',
  '{"event_id":"e","code":"\\ufeffX","at":"a"}',
  '{"event_id":"\ufeffE","code":5}',
  '{"event_id":"e","code":"\\udc00","at":"a"}',
  '{"event_id":"e","code":"\\ud800\\u0041","at":"a"}',
  '{"event_id":"e","code":"\\ud800x","at":"a"}',
  '{"event_id":"e","code":"\\ud800\\x","at":"a"}',
  '{"event_id":"e","code":"\\u12","at":"a"}',
  '{"event_id":"e","code":"\\u12g4","at":"a"}',
  '{"event_id":"e","code":"\\q","at":"a"}',
  '{"event_id":"e","code":"a\nb","at":"a"}',
  '{"event_id":"e","code":"abc',
  '{"event_id":"e","code":"abc\\',
  '{"event_id":"e","code":"abc\\u00',
  '{"event_id":"e","code":"c","at":"a","direction":"\\u0000\\u007f\\u00a0\\u00ad\\u0301x\\u200b\\u2028 é"}',
  '{"event_id":"e","code":"c","at":"a","direction":"it\'s \\"q\\""}',
  '{"event_id":"e","code":"c","at":"a","count":"\\u0000\\u00a0"}',
  '["e","c","in","a",2,null,true]',
  '["e","c","in","a",2,null,true,5]',
  '["e","c","in","a",2,null,true,]',
  '["e","c","in","a"]',
  '["e","c"]',
  '["e","c",]',
  '["e" "c"]',
  '[',
  '{',
  '{"event_id":',
  '{"event_id":"e"',
  '{"event_id":"e",',
  '\ufeff' + base,
  ' \n\t\r' + base + ' \n',
  '{\n  "event_id": "e",\n  "code": "c",\n  "count": 2.5,\n  "at": "a"\n}',
  '{\n  "event_id": "e",\n  "code": "c"\n}\n',
  '{"event_id" : "g7-1" , "code": 5}',
  '{"event_id":"' + 'x'.repeat(128) + '","code":5}',
  '{"event_id":"' + 'x'.repeat(129) + '","code":5}',
  '{"event_id":"","code":5}',
  '{"event_id":"a\\"b","code":5}',
  '{"event_id":\n"multi-line","code":5}',
  '{"event_id":x"g7-1","code":5}',
  '{"other":"event_id","event_id": "g7-2", "code": [}',
  '{"event_id\\u0020":"e"}',
];
for (const c of cases) scan(c);
// invalid UTF-8 in various positions
const raw = [
  [...enc.encode('{"event_id":"e","code":"a'), 0xff, ...enc.encode('b","at":"a"}')],
  [...enc.encode('{"event_id":"e","code":"ab'), 0xc3, ...enc.encode('","at":"a"}')],
  [...enc.encode('{"event_id":"e","code":"\\n'), 0xed, 0xa0, 0x80, ...enc.encode('x","at":"a"}')],
  [...enc.encode('{"event_id":"e","x":"'), 0xff, ...enc.encode('","code":"c","at":"a"}')],
  [...enc.encode('{"event_id":"e","'), 0xff, ...enc.encode('":1,"code":"c","at":"a"}')],
  [...enc.encode('{"event_id":"e'), 0xff, ...enc.encode('","code":"c","at":"a"}')],
  [...enc.encode('{"event_id":"e","code":"c","at":"a","count":"'), 0xf0, 0x9f, ...enc.encode('"}')],
  [...enc.encode('{"event_id":"e","code":"c","at":"a"}'), 0xff],
  [0xff],
  [...enc.encode('{"event_id":"e","code":"'), 0xe0, 0x80, 0x80, ...enc.encode('","at":"a"}')],
  [...enc.encode('{"event_id":"e","code":"'), 0xf4, 0x90, 0x80, 0x80, ...enc.encode('","at":"a"}')],
  [...enc.encode('{"event_id":"e","code":"'), 0xf0, 0x9f, 0x98, 0x80, ...enc.encode('","at":"a"}')],
];
for (const r of raw) scan(r);

// random mutations of valid payloads
let seed = 12345;
const rnd = (k) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % k; };
const seeds = [
  '{"event_id":"g7-1","code":"TK","direction":"out","at":"2026-11-25T09:00:00+08:00","count":3,"id_number":"11010119900307123X","offline":true}',
  '{"event_id":"g7-2","code":"TK","at":"t","extra":{"a":[1,-2.5e3,"x\\u00e9"],"b":null}}',
  '["g7-3","TK","in","t",1,null,false]',
];
const alphabet = enc.encode('{}[]:,"\\ 0123456789.eE+-ntrufalsx\u00e9\n\t');
for (let k = 0; k < 3000; k++) {
  const s = enc.encode(seeds[k % seeds.length]);
  const b = Array.from(s);
  const edits = 1 + rnd(3);
  for (let e = 0; e < edits; e++) {
    const op = rnd(4), at = rnd(b.length + 1);
    if (op === 0) b.splice(at, 1);
    else if (op === 1) b.splice(at, 0, alphabet[rnd(alphabet.length)]);
    else if (op === 2) b[at % b.length] = alphabet[rnd(alphabet.length)];
    else b.length = at;
  }
  scan(b);
}

// encoders
const reasons = ['ok','unknown-ticket','already-used','not-valid-today','outside-time-slot','refunded','rebooked','passback','wrong-area','capacity-full','realname-mismatch','bad-request','plugin-error'];
const strs = ['', 'x', 'a"b\\c', 'line\nbreak\ttab\r\b\f', '\u0000\u0001\u001f\u007f', 'é漢字😀', '\u2028\u2029', '</script>'];
for (const [i, reason] of reasons.entries()) {
  for (const [j, s] of strs.entries()) {
    const v = { eventId: s, decision: (i + j) % 2 ? 'admit' : 'deny', reason, ticketId: j % 3 ? s : undefined, admitted: (i * 7 + j) % 5 === 0 ? 4294967295 : i, entriesLeft: j % 2 ? undefined : j, message: strs[(i + j) % strs.length] };
    const a = call(() => dec.decode(rs.encodeVerdict('dev', v)));
    const b = call(() => dec.decode(js.encodeVerdict('dev', v)));
    check(`verdict ${i},${j}`, a, b);
  }
}
for (const [j, s] of strs.entries()) {
  const d = { gate: s, seq: j === 3 ? 18446744073709551615n : BigInt(j), add: strs.slice(0, j).map((t, k) => ({ code: t, ticketId: `t${k}`, visitDate: '2026-11-25', slot: k % 2 ? t : undefined, entries: k % 3 ? undefined : 4294967295 - k, partySize: k + 1 })), remove: strs.slice(j) };
  check(`delta ${j}`, call(() => dec.decode(rs.encodeWhitelist('dev', d))), call(() => dec.decode(js.encodeWhitelist('dev', d))));
}
// every code point, as a bad direction (Rust's {:?} escaping)
{
  let before = bad;
  for (let start = 0; start < 0x110000; start += 4096) {
    let s = '';
    for (let cp = start; cp < Math.min(start + 4096, 0x110000); cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (cp === 0x22 || cp === 0x5c || cp < 0x20) s += '\\u' + cp.toString(16).padStart(4, '0');
      else s += String.fromCodePoint(cp);
    }
    scan(`{"event_id":"e","code":"c","at":"a","direction":"${s}"}`);
  }
  console.log(`code point sweep: ${bad - before} mismatching chunks`);
}
}

if (rs === null) console.log(`(no ${rsWasm}: the comparison with the Rust plugin is skipped)`);
else compareWithRust();
console.log(`${n - bad} passed, ${bad} failed`);
process.exitCode = bad === 0 ? 0 : 1;
