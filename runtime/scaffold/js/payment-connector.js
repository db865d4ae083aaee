// {{name}}: a payment-connector plugin in JavaScript. It asks a provider's JSON API to pay
// a bill's payout and reads its answers; the host makes the HTTP calls, only to the hosts
// the manifest's `allowed_hosts` lists. Replace the requests and the answers with your
// provider's API; `base_url` comes from the manifest's config.
import { get } from 'venue:edge/config@{{contract}}';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const baseUrl = () => get('base_url') ?? 'https://bank.example';

function request(method, url, body) {
  return { method, url, headers: [{ name: 'content-type', value: 'application/json' }], body };
}

export const connector = {
  buildPayout(p) {
    const body = JSON.stringify({ idempotency_key: p.payoutId, account: p.account, amount_fen: String(p.amountFen), memo: p.memo });
    return request('POST', `${baseUrl()}/payouts`, encoder.encode(body));
  },

  buildStatusQuery(p) {
    return request('GET', `${baseUrl()}/payouts/${encodeURIComponent(p.payoutId)}`, new Uint8Array());
  },

  readResponse(_p, r) {
    if (r.status === 404) return { tag: 'unknown' };
    let v;
    try {
      v = JSON.parse(decoder.decode(r.body));
    } catch (e) {
      throw `not a JSON answer: ${e}`;
    }
    if (v.status === 'succeeded') return { tag: 'succeeded', val: String(v.reference ?? '') };
    if (v.status === 'failed') return { tag: 'failed', val: String(v.reason ?? 'failed') };
    return { tag: 'pending' };
  },
};
