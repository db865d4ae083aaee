// {{name}}: a gate-adapter plugin in JavaScript. It reads the venue's unified scan as JSON
// and writes verdicts and whitelist changes as JSON; replace both with your turnstiles'
// format, and the samples in conformance.toml with payloads of it.
//
// A function returning `result<T, E>` returns T, or throws E. `option<T>` is T or
// undefined; u32 is a number, s64 and u64 are BigInt.
import { log } from 'venue:edge/log@{{contract}}';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
/** The host's limit on a ticket code; refusing a longer one here is cheaper than copying it out. */
const CODE_BYTES_MAX = 128;

function refuse(code, message, eventId) {
  throw { code, message, eventId: typeof eventId === 'string' ? eventId : undefined };
}

function parse(device, payload) {
  try {
    return JSON.parse(decoder.decode(payload));
  } catch (e) {
    log('debug', `${device}: not JSON: ${e}`);
    return refuse('bad_json', `not a JSON scan: ${e}`);
  }
}

export const gate = {
  decodeScan(device, payload) {
    const s = parse(device, payload);
    if (typeof s !== 'object' || s === null) refuse('bad_json', 'a scan is a JSON object');
    for (const key of ['event_id', 'code', 'at']) {
      if (typeof s[key] !== 'string') refuse('bad_json', `${key} must be a string`, s.event_id);
    }
    if (s.direction !== 'in' && s.direction !== 'out')
      refuse('bad_direction', 'direction must be in or out', s.event_id);
    const bytes = encoder.encode(s.code).length;
    if (bytes === 0 || bytes > CODE_BYTES_MAX)
      refuse('bad_code', `code must be 1 to ${CODE_BYTES_MAX} bytes`, s.event_id);
    const count = s.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 0xffffffff)
      refuse('bad_count', 'count must be a whole number from 1', s.event_id);
    return {
      eventId: s.event_id,
      code: s.code,
      direction: s.direction,
      at: s.at,
      count,
      idNumber: typeof s.id_number === 'string' ? s.id_number : undefined,
      offline: s.offline === true,
    };
  },

  encodeVerdict(_device, v) {
    return encoder.encode(
      JSON.stringify({
        event_id: v.eventId,
        decision: v.decision,
        reason: v.reason.replaceAll('-', '_'),
        ticket_id: v.ticketId ?? null,
        admitted: v.admitted,
        entries_left: v.entriesLeft ?? null,
        message: v.message,
      }),
    );
  },

  encodeWhitelist(_device, d) {
    return encoder.encode(
      JSON.stringify({
        gate: d.gate,
        seq: String(d.seq),
        add: d.add.map((e) => ({
          code: e.code,
          ticket_id: e.ticketId,
          visit_date: e.visitDate,
          slot: e.slot ?? null,
          entries: e.entries ?? null,
          party_size: e.partySize,
        })),
        remove: d.remove,
      }),
    );
  },
};
