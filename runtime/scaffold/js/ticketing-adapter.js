// {{name}}: a ticketing-adapter plugin in JavaScript. It reads a partner's order push as
// the venue's unified order in JSON and answers the confirmation as JSON; replace both
// with your format, and the samples in conformance.toml with pushes of it.
//
// A function returning `result<T, E>` returns T, or throws E. `option<T>` is T or
// undefined; u32 is a number, s64 (money in fen) is a BigInt.
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const CHANNELS = ['web', 'window', 'ota', 'group'];

function refuse(code, message, eventId) {
  throw { code, message, eventId: typeof eventId === 'string' ? eventId : undefined };
}

const text = (v, what, ref) => (typeof v === 'string' ? v : refuse('bad_json', `${what} must be a string`, ref));

export const ticketing = {
  decodeOrder(payload, _contentType) {
    let o;
    try {
      o = JSON.parse(decoder.decode(payload));
    } catch (e) {
      refuse('bad_json', `not a JSON order: ${e}`);
    }
    if (typeof o !== 'object' || o === null) refuse('bad_json', 'an order is a JSON object');
    const ref = text(o.order_ref, 'order_ref');
    if (!CHANNELS.includes(o.channel)) refuse('bad_channel', `channel must be one of ${CHANNELS.join(', ')}`, ref);
    if (!Array.isArray(o.items)) refuse('bad_json', 'items must be a list', ref);
    const payment = o.payment ?? {};
    return {
      orderRef: ref,
      channel: o.channel,
      visitDate: text(o.visit_date, 'visit_date', ref),
      slot: typeof o.slot === 'string' ? o.slot : undefined,
      items: o.items.map((i) => ({
        product: text(i.product, 'product', ref),
        qty: Number.isInteger(i.qty) && i.qty > 0 ? i.qty : refuse('bad_qty', 'qty must be a whole number from 1', ref),
        visitors: (Array.isArray(i.visitors) ? i.visitors : []).map((v) => ({
          name: text(v.name, 'name', ref),
          idType: text(v.id_type, 'id_type', ref),
          idNumber: text(v.id_number, 'id_number', ref),
        })),
      })),
      payment: { method: text(payment.method, 'payment.method', ref), reference: text(payment.reference, 'payment.reference', ref) },
    };
  },

  encodeConfirmation(c) {
    return encoder.encode(
      JSON.stringify({
        order_id: c.orderId,
        order_ref: c.orderRef,
        total_fen: String(c.totalFen),
        tickets: c.tickets.map((t) => ({ ticket_id: t.ticketId, code: t.code, product: t.product, visit_date: t.visitDate })),
        group_code: c.groupCode ?? null,
      }),
    );
  },
};
