"""{{name}}: a payment-connector plugin in Python. It asks a provider's JSON API to pay a
bill's payout and reads its answers; the host makes the HTTP calls, only to the hosts the
manifest's `allowed_hosts` lists. Replace the requests and the answers with your provider's
API; `base_url` comes from the manifest's config.

A function returning `result<T, E>` returns T, or raises `Err(E)`."""

import json
from urllib.parse import quote

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.connector import (
    Header,
    HttpRequest,
    PayoutStatus_Failed,
    PayoutStatus_Pending,
    PayoutStatus_Succeeded,
    PayoutStatus_Unknown,
)
from wit_world.imports import config


def base_url():
    return config.get("base_url") or "https://bank.example"


def request(method, url, body):
    return HttpRequest(method=method, url=url, headers=[Header(name="content-type", value="application/json")], body=body)


class Connector(exports.Connector):
    def build_payout(self, p):
        body = {"idempotency_key": p.payout_id, "account": p.account, "amount_fen": p.amount_fen, "memo": p.memo}
        return request("POST", base_url() + "/payouts", json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def build_status_query(self, p):
        return request("GET", base_url() + "/payouts/" + quote(p.payout_id, safe=""), b"")

    def read_response(self, p, r):
        if r.status == 404:
            return PayoutStatus_Unknown()
        try:
            v = json.loads(bytes(r.body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Err("not a JSON answer: %s" % e)
        if v.get("status") == "succeeded":
            return PayoutStatus_Succeeded(str(v.get("reference", "")))
        if v.get("status") == "failed":
            return PayoutStatus_Failed(str(v.get("reason", "failed")))
        return PayoutStatus_Pending()
