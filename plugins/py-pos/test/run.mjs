// Tests for the py-pos component: transpiles the built component with jco and runs it in
// Node. jco comes from plugins/js-gate's node_modules (run `npm ci` there first). Fixed
// cases from std-json-pos's unit tests always run; when the Rust reference
// (target/wasm32-wasip2/plugin/plugin_std_json_pos.wasm) is built, a corpus of payloads
// (edge cases, 3,000 random mutations, every code point) and acks also runs through both
// components, and their answers and log lines must be the same. If that Rust build is of
// contract 1.0.0 (no ticket_code; 8 fields in array form, not 9), payloads with a
// `ticket_code` or in serde's array form are left out of the comparison; the fixed cases
// cover them.
//
// Usage: node plugins/py-pos/test/run.mjs   (after build.sh)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

// CPython's core modules use extended constant expressions, which Node 20 needs a flag for.
const FLAG = '--experimental-wasm-extended-const';
if (!process.execArgv.includes(FLAG) && Number(process.versions.node.split('.')[0]) < 22) {
  try {
    execFileSync(process.execPath, [FLAG, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(0);
  } catch (e) {
    process.exit(e.status ?? 1);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = dirname(here);
const root = dirname(dirname(pluginDir));
const nodeModules = join(root, 'plugins/js-gate/node_modules');
const built = join(root, 'target/wasm32-wasip2/plugin');
const pyWasm = join(built, 'plugin_py_pos.wasm');
const rsWasm = join(built, 'plugin_std_json_pos.wasm');
if (!existsSync(pyWasm)) {
  console.error(`${pyWasm} is missing: run plugins/py-pos/build.sh first`);
  process.exit(1);
}
if (!existsSync(join(nodeModules, '.bin/jco'))) {
  console.error(`no jco in ${nodeModules}: run npm ci in plugins/js-gate first`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'py-pos-test-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
symlinkSync(nodeModules, join(work, 'node_modules'));
copyFileSync(join(here, 'host-shim.js'), join(work, 'host-shim.js'));
const maps = ['log@1.0.0', 'log@1.1.0', 'clock@1.0.0', 'clock@1.1.0', 'config@1.0.0', 'config@1.1.0', 'kv@1.0.0', 'kv@1.1.0'].flatMap(
  (i) => ['-M', `venue:edge/${i}=../host-shim.js`],
);
function transpile(wasm, name) {
  execFileSync(join(nodeModules, '.bin/jco'), ['transpile', wasm, '-o', join(work, name), '--name', name, '--no-typescript', '-q', ...maps], { stdio: 'inherit' });
  return import(join(work, name, `${name}.js`));
}

const shim = await import(join(work, 'host-shim.js'));
const py = (await transpile(pyWasm, 'py')).pos;
const rsModule = existsSync(rsWasm) ? await transpile(rsWasm, 'rs') : null;
const rs = rsModule === null ? null : rsModule.pos;
// A Rust build of contract 1.0.0 has no ticket_code (and 8 fields in array form).
const rsIs1_0 = rsModule !== null && !('venue:edge/pos@1.1.0' in rsModule);

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
const decodeSale = (p) => call(() => py.decodeSale('pos12', enc.encode(p)));
const sale = (extra) =>
  `{"event_id":"e","merchant":"m","kind":"sale","at":"2026-11-25T12:31:09+08:00",
                        "lines":[],"total_fen":0${extra}}`;

// --- fixed cases (std-json-pos's unit tests, and answers the Rust plugin gave)
{
  const r = decodeSale(`{"event_id":"pos12-88812","merchant":"m-tea-house","kind":"sale","refers_to":null,
                 "at":"2026-11-25T12:31:09+08:00","payment":"wechat",
                 "lines":[{"sku":"tea-01","category":"food","qty":2,"unit_price_fen":1800}],"total_fen":3600}`);
  check('the reference sale decodes', {
    ok: { eventId: 'pos12-88812', merchant: 'm-tea-house', kind: 'sale', refersTo: undefined, at: '2026-11-25T12:31:09+08:00', payment: 'wechat',
      lines: [{ sku: 'tea-01', category: 'food', qty: 2, unitPriceFen: 1800n }], totalFen: 3600n, ticketCode: undefined },
    logs: [],
  }, r);
  check('ticket code', 'T-8F2K', decodeSale(sale(',"ticket_code":"T-8F2K"')).ok.ticketCode);
  check('empty ticket code', undefined, decodeSale(sale(',"ticket_code":""')).ok.ticketCode);
  check('null ticket code', undefined, decodeSale(sale(',"ticket_code":null')).ok.ticketCode);
  check('no ticket code', undefined, decodeSale(sale('')).ok.ticketCode);
  check('a ticket code that is not a string', {
    code: 'bad_json',
    message: 'not a std-json sale: invalid type: integer `5`, expected a string at line 2 column 64',
    eventId: 'e',
  }, decodeSale(sale(',"ticket_code":5')).err);
  check('twice a ticket code', 'not a std-json sale: duplicate field `ticket_code` at line 2 column 80',
    decodeSale(sale(',"ticket_code":"a","ticket_code":"b"')).err.message);
  check('the array form', { ticketCode: 'T1', totalFen: 0n, payment: '' },
    (({ ticketCode, totalFen, payment }) => ({ ticketCode, totalFen, payment }))(decodeSale('["e","m","sale",null,"a","",[],0,"T1"]').ok));
  check('the array form without its ticket code', undefined, decodeSale('["e","m","sale",null,"a","",[],0]').ok.ticketCode);
  check('the array form, short', 'not a std-json sale: invalid length 7, expected struct SaleJson with 9 elements at line 1 column 25',
    decodeSale('["e","m","sale",null,"a"]').err.message);
  check('the array form, long', 'not a std-json sale: trailing characters at line 1 column 39',
    decodeSale('["e","m","sale",null,"a","",[],0,"T1",5]').err.message);
  check('a line in array form', [{ sku: 's', category: 'c', qty: 1, unitPriceFen: -5n }],
    decodeSale(sale('').replace('"lines":[]', '"lines":[["s","c",1,-5]]')).ok.lines);
  check('rejected ack', '{"error":"total_mismatch: x","event_id":"e","status":"rejected"}',
    dec.decode(py.encodeAck('pos12', { eventId: 'e', status: { tag: 'rejected', val: 'total_mismatch: x' } })));
  check('accepted ack', '{"event_id":"e","status":"accepted"}', dec.decode(py.encodeAck('pos12', { eventId: 'e', status: { tag: 'accepted' } })));
}

// --- the same answers as the Rust reference
function compareWithRust() {
  const bytesOf = (p) => (typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p));
  const skipped = (b) => {
    if (!rsIs1_0) return false;
    const text = Buffer.from(b).toString('latin1');
    return text.includes('ticket_code') || text.trimStart().startsWith('[');
  };
  const withoutTicketCode = (r) => {
    if (rsIs1_0 && r.ok && r.ok.ticketCode === undefined) delete r.ok.ticketCode;
    return r;
  };
  function scan(p) {
    const b = bytesOf(p);
    if (skipped(b)) return;
    const label = typeof p === 'string' ? p.slice(0, 200) : `bytes ${Buffer.from(b).toString('hex')}`;
    check(label, withoutTicketCode(call(() => rs.decodeSale('dev', b.slice()))), withoutTicketCode(call(() => py.decodeSale('dev', b.slice()))));
  }

  const line = '{"sku":"tea-01","category":"food","qty":2,"unit_price_fen":1800}';
  const base = `{"event_id":"pos12-88812","merchant":"m-tea-house","kind":"sale","refers_to":null,"at":"2026-11-25T12:31:09+08:00","payment":"wechat","lines":[${line}],"total_fen":3600}`;
  const withField = (name, value) => `{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1,"${name}":${value}}`;
  const withLine = (l) => `{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1,"lines":[${l}]}`;
  const cases = [
    base, '', ' ', '{}', '[]', 'null', '"s"', '12', '{"event_id":"e"}',
    '{"event_id":"e","merchant":"m","kind":"refund","refers_to":"pos-1","at":"a","total_fen":-3600}',
    '{"event_id":"e","merchant":"m","kind":"void","refers_to":"pos-1","at":"a","total_fen":0}',
    '{"event_id":"e","merchant":"m","kind":"Sale","at":"a","total_fen":0}',
    '{"event_id":"e","merchant":"m","kind":"","at":"a","total_fen":0}',
    '{"event_id":"e","merchant":"m","kind":null,"at":"a","total_fen":0}',
    '{"event_id":"e","merchant":"m","kind":"sale","at":"a"}',
    '{"event_id":"e","merchant":"m","kind":"sale","total_fen":1}',
    '{"event_id":"e","kind":"sale","at":"a","total_fen":1}',
    '{"merchant":"m","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"m","kind":"gift","at":"a"}',
    '{"event_id":"e","merchant":"m","at":"a","kind":"gift","total_fen":"x"}',
    ...['0', '-0', '1.5', '1e2', '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809',
      '18446744073709551615', '18446744073709551616', '1e400', '-1e400', '"1"', 'null', 'true', '[]', '{}', '01', '-', '1.', '.5', '1e', 'NaN', 'Infinity', '-Infinity',
      '123456789012345678901234567890', '0.000001', '0.00001', '1e15', '1e16', '12345678.9'].map((v) => withField('total_fen', v)),
    ...['"wechat"', 'null', '5', '""', '["x"]'].map((v) => withField('payment', v)),
    ...['"x"', 'null', '5', '""'].map((v) => withField('refers_to', v)),
    ...['[]', 'null', '"x"', '{}', '5', '[1]', '[null]', '[[]]', '[{}]'].map((v) => withField('lines', v)),
    withLine(line), withLine(`${line},${line}`), withLine(`${line},`), withLine(`${line} ${line}`), withLine('["s","c",1,2]'), withLine('["s","c",1]'), withLine('["s","c",1,2,3]'),
    ...['1.0', '-1', '4294967295', '4294967296', '"2"', 'null', '1e1'].map((q) => withLine(`{"sku":"s","category":"c","qty":${q},"unit_price_fen":1}`)),
    ...['1.0', '-1', '9223372036854775807', '9223372036854775808', '"2"', 'null'].map((q) => withLine(`{"sku":"s","category":"c","qty":1,"unit_price_fen":${q}}`)),
    withLine('{"sku":"s","category":"c","qty":1}'), withLine('{"sku":"s","qty":1,"unit_price_fen":1}'), withLine('{"sku":"s","sku":"t","category":"c","qty":1,"unit_price_fen":1}'),
    withLine('{"sku":"s","category":"c","qty":1,"unit_price_fen":1,"extra":[1,{"a":"\\ud800"}]}'),
    '{"event_id":"e","merchant":"m","merchant":"n","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1,}',
    '{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1} x',
    '{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1}\n',
    '{\n  "event_id": "e",\n  "merchant": "m",\n  "kind": "sale",\n  "at": "a",\n  "total_fen": 2.5\n}',
    '{"event_id":"e","merchant":"m\\u00e9\\ud83d\\ude00\\n\\t\\"","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"\\ud800","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"\\ud800\\u0041","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"a\nb","kind":"sale","at":"a","total_fen":1}',
    '{"event_id":"e","merchant":"m","kind":"sale","at":"a","total_fen":1,"x":"\\q"}',
    '{"event_id":"e","merchant":"m","kind":"\\u0000\\u007f\\u00a0\\u00ad\\u0301x\\u200b\\u2028 é","at":"a","total_fen":1}',
    '{"event_id":"' + 'x'.repeat(128) + '","merchant":5}', '{"event_id":"' + 'x'.repeat(129) + '","merchant":5}',
    ...['"T-8F2K"', '""', 'null', '5', '["x"]', '"\\u0000"'].map((v) => withField('ticket_code', v)),
    withField('ticket_code', '"a","ticket_code":"b"'),
    '["e","m","sale",null,"a","",[],0,"T1"]', '["e","m","sale",null,"a","",[],0,""]', '["e","m","sale",null,"a","",[],0]',
    '["e","m","sale",null,"a"]', '["e","m","sale",null,"a","",[],0,"T1",5]', '["e","m","sale",null,"a","",[["s","c",1,2]],3,null]',
    '{"event_id" : "pos-1" , "merchant": [}', '{"event_id":"a\\"b","merchant":5}', '{"event_id":', '{', '\ufeff' + base,
  ];
  for (const c of cases) scan(c);
  const raw = [
    [...enc.encode('{"event_id":"e","merchant":"a'), 0xff, ...enc.encode('b","kind":"sale","at":"a","total_fen":1}')],
    [...enc.encode('{"event_id":"e","x":"'), 0xff, ...enc.encode('","merchant":"m","kind":"sale","at":"a","total_fen":1}')],
    [...enc.encode('{"event_id":"e'), 0xff, ...enc.encode('","merchant":"m"}')],
    [...enc.encode('{"event_id":"e","merchant":"'), 0xed, 0xa0, 0x80, ...enc.encode('","kind":"sale","at":"a","total_fen":1}')],
    [...enc.encode('{"event_id":"e","merchant":"'), 0xf0, 0x9f, 0x98, 0x80, ...enc.encode('","kind":"sale","at":"a","total_fen":1}')],
    [0xff],
  ];
  for (const r of raw) scan(r);

  let seed = 4242;
  const rnd = (k) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % k;
  };
  const seeds = [
    base,
    '{"event_id":"pos-2","merchant":"m","kind":"refund","refers_to":"pos-1","at":"t","payment":"card","lines":[["s","c",1,-200],{"sku":"s2","category":"c","qty":3,"unit_price_fen":100}],"total_fen":100,"extra":{"a":[1,-2.5e3,"x\\u00e9"]}}',
    '{"event_id":"pos-3","merchant":"m","kind":"sale","at":"t","lines":[],"total_fen":0,"ticket_code":"T-8F2K"}',
    '["pos-4","m","sale",null,"t","cash",[["s","c",1,5]],5,"T-1"]',
  ];
  const alphabet = enc.encode('{}[]:,"\\ 0123456789.eE+-ntrufalsx\u00e9\n\t');
  for (let k = 0; k < 3000; k++) {
    const b = Array.from(enc.encode(seeds[k % seeds.length]));
    const edits = 1 + rnd(3);
    for (let e = 0; e < edits; e++) {
      const op = rnd(4);
      const at = rnd(b.length + 1);
      if (op === 0) b.splice(at, 1);
      else if (op === 1) b.splice(at, 0, alphabet[rnd(alphabet.length)]);
      else if (op === 2) b[at % b.length] = alphabet[rnd(alphabet.length)];
      else b.length = at;
    }
    scan(b);
  }

  const strs = ['', 'x', 'a"b\\c', 'line\nbreak\ttab\r\b\f', '\u0000\u0001\u001f\u007f', 'é漢字😀', '\u2028\u2029', '</script>'];
  for (const s of strs) {
    for (const status of [{ tag: 'accepted' }, ...strs.map((t) => ({ tag: 'rejected', val: t }))]) {
      const ack = { eventId: s, status };
      check(`ack ${show(ack)}`, call(() => dec.decode(rs.encodeAck('dev', ack))), call(() => dec.decode(py.encodeAck('dev', ack))));
    }
  }

  // every code point, as a bad kind (Rust's {:?} escaping)
  const before = bad;
  for (let start = 0; start < 0x110000; start += 4096) {
    let s = '';
    for (let cp = start; cp < Math.min(start + 4096, 0x110000); cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (cp === 0x22 || cp === 0x5c || cp < 0x20) s += '\\u' + cp.toString(16).padStart(4, '0');
      else s += String.fromCodePoint(cp);
    }
    scan(`{"event_id":"e","merchant":"m","kind":"${s}","at":"a","total_fen":1}`);
  }
  console.log(`code point sweep: ${bad - before} mismatching chunks`);
}

if (rs === null) console.log(`(no ${rsWasm}: the comparison with the Rust plugin is skipped)`);
else compareWithRust();
console.log(`${n - bad} passed, ${bad} failed`);
process.exitCode = bad === 0 ? 0 : 1;
