"""{{name}}: a pos-adapter plugin in Python. It reads the venue's unified sale as JSON and
writes acknowledgements as JSON; replace both with your terminals' format, and the
samples in conformance.toml with payloads of it.

A function returning `result<T, E>` returns T, or raises `Err(E)`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import Ack, AckStatus_Accepted, DecodeError, Sale, SaleKind, SaleLine

# Brackets a sale may hold (one per line and a few more); counted at C speed before
# parsing, so a payload nested a hundred thousand deep is refused within the deadline.
BRACKETS_MAX = 10_000
KINDS = {"sale": SaleKind.SALE, "refund": SaleKind.REFUND, "void": SaleKind.VOID}


def refuse(code, message, event_id=None):
    raise Err(DecodeError(code=code, message=message, event_id=event_id if isinstance(event_id, str) else None))


def whole(value, what, event_id):
    if not isinstance(value, int) or isinstance(value, bool):
        refuse("bad_amount", "%s must be whole fen" % what, event_id)
    return value


class Pos(exports.Pos):
    def decode_sale(self, device: str, payload: bytes) -> Sale:
        payload = bytes(payload)
        if payload.count(b"{") + payload.count(b"[") > BRACKETS_MAX:
            refuse("bad_json", "not a JSON sale: more than %d brackets" % BRACKETS_MAX)
        try:
            s = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            log.log(log.Level.DEBUG, "%s: not JSON: %s" % (device, e))
            refuse("bad_json", "not a JSON sale: %s" % e)
        if not isinstance(s, dict):
            refuse("bad_json", "a sale is a JSON object")
        for key in ("event_id", "merchant", "kind", "at"):
            if not isinstance(s.get(key), str):
                refuse("bad_json", "%s must be a string" % key, s.get("event_id"))
        kind = KINDS.get(s["kind"])
        if kind is None:
            refuse("bad_kind", "kind must be sale, refund or void", s["event_id"])
        lines = s.get("lines") or []
        if not isinstance(lines, list) or not all(isinstance(l, dict) for l in lines):
            refuse("bad_line", "lines must be a list of objects", s["event_id"])
        refers_to, code = s.get("refers_to"), s.get("ticket_code")
        return Sale(
            event_id=s["event_id"],
            merchant=s["merchant"],
            kind=kind,
            refers_to=refers_to if isinstance(refers_to, str) else None,
            at=s["at"],
            payment=s.get("payment") if isinstance(s.get("payment"), str) else "",
            lines=[
                SaleLine(
                    sku=str(l.get("sku", "")),
                    category=str(l.get("category", "")),
                    qty=whole(l.get("qty"), "qty", s["event_id"]),
                    unit_price_fen=whole(l.get("unit_price_fen"), "unit_price_fen", s["event_id"]),
                )
                for l in lines
            ],
            total_fen=whole(s.get("total_fen"), "total_fen", s["event_id"]),
            ticket_code=code if isinstance(code, str) and code else None,
        )

    def encode_ack(self, device: str, ack: Ack) -> bytes:
        if isinstance(ack.status, AckStatus_Accepted):
            body = {"event_id": ack.event_id, "status": "accepted"}
        else:
            body = {"event_id": ack.event_id, "status": "rejected", "error": ack.status.value}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
