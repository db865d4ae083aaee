// {{name}}: a pos-adapter plugin in JavaScript. It reads the venue's unified sale as JSON
// and writes acknowledgements as JSON; replace both with your terminals' format, and the
// samples in conformance.toml with payloads of it.
//
// A function returning `result<T, E>` returns T, or throws E. `option<T>` is T or
// undefined; u32 is a number, s64 (money in fen) is a BigInt.
import { log } from 'venue:edge/log@{{contract}}';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const KINDS = { sale: 'sale', refund: 'refund', void: 'void' };

function refuse(code, message, eventId) {
  throw { code, message, eventId: typeof eventId === 'string' ? eventId : undefined };
}

/** Whole fen: JSON numbers are exact up to 2^53, far beyond any till's amounts. */
function fen(value, what, eventId) {
  if (!Number.isSafeInteger(value)) refuse('bad_amount', `${what} must be whole fen`, eventId);
  return BigInt(value);
}

export const pos = {
  decodeSale(device, payload) {
    let s;
    try {
      s = JSON.parse(decoder.decode(payload));
    } catch (e) {
      log('debug', `${device}: not JSON: ${e}`);
      refuse('bad_json', `not a JSON sale: ${e}`);
    }
    if (typeof s !== 'object' || s === null) refuse('bad_json', 'a sale is a JSON object');
    for (const key of ['event_id', 'merchant', 'kind', 'at']) {
      if (typeof s[key] !== 'string') refuse('bad_json', `${key} must be a string`, s.event_id);
    }
    const kind = KINDS[s.kind];
    if (kind === undefined) refuse('bad_kind', 'kind must be sale, refund or void', s.event_id);
    const lines = Array.isArray(s.lines) ? s.lines : [];
    return {
      eventId: s.event_id,
      merchant: s.merchant,
      kind,
      refersTo: typeof s.refers_to === 'string' ? s.refers_to : undefined,
      at: s.at,
      payment: typeof s.payment === 'string' ? s.payment : '',
      lines: lines.map((l) => ({
        sku: String(l.sku),
        category: String(l.category),
        qty: Number.isInteger(l.qty) && l.qty >= 0 ? l.qty : refuse('bad_line', 'qty must be a whole number', s.event_id),
        unitPriceFen: fen(l.unit_price_fen, 'unit_price_fen', s.event_id),
      })),
      totalFen: fen(s.total_fen, 'total_fen', s.event_id),
      ticketCode: typeof s.ticket_code === 'string' && s.ticket_code !== '' ? s.ticket_code : undefined,
    };
  },

  encodeAck(_device, ack) {
    const body =
      ack.status.tag === 'accepted'
        ? { event_id: ack.eventId, status: 'accepted' }
        : { event_id: ack.eventId, status: 'rejected', error: ack.status.val };
    return encoder.encode(JSON.stringify(body));
  },
};
