"""{{name}}: a ticketing-adapter plugin in Python. It reads a partner's order push as the
venue's unified order in JSON and answers the confirmation as JSON; replace both with your
format, and the samples in conformance.toml with pushes of it.

A function returning `result<T, E>` returns T, or raises `Err(E)`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import Channel, DecodeError, Order, OrderConfirmation, OrderItem, Payment, Visitor

BRACKETS_MAX = 10_000
CHANNELS = {"web": Channel.WEB, "window": Channel.WINDOW, "ota": Channel.OTA, "group": Channel.GROUP}


def refuse(code, message, ref=None):
    raise Err(DecodeError(code=code, message=message, event_id=ref if isinstance(ref, str) else None))


def text(value, what, ref=None):
    if not isinstance(value, str):
        refuse("bad_json", "%s must be a string" % what, ref)
    return value


class Ticketing(exports.Ticketing):
    def decode_order(self, payload: bytes, content_type: str) -> Order:
        payload = bytes(payload)
        if payload.count(b"{") + payload.count(b"[") > BRACKETS_MAX:
            refuse("bad_json", "not a JSON order: nested too deep")
        try:
            o = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            refuse("bad_json", "not a JSON order: %s" % e)
        if not isinstance(o, dict):
            refuse("bad_json", "an order is a JSON object")
        ref = text(o.get("order_ref"), "order_ref")
        channel = CHANNELS.get(o.get("channel"))
        if channel is None:
            refuse("bad_channel", "channel must be web, window, ota or group", ref)
        items = o.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            refuse("bad_json", "items must be a list of objects", ref)
        payment = o.get("payment") if isinstance(o.get("payment"), dict) else {}
        out = []
        for i in items:
            qty = i.get("qty")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                refuse("bad_qty", "qty must be a whole number from 1", ref)
            visitors = i.get("visitors") if isinstance(i.get("visitors"), list) else []
            out.append(
                OrderItem(
                    product=text(i.get("product"), "product", ref),
                    qty=qty,
                    visitors=[
                        Visitor(
                            name=text(v.get("name"), "name", ref),
                            id_type=text(v.get("id_type"), "id_type", ref),
                            id_number=text(v.get("id_number"), "id_number", ref),
                        )
                        for v in visitors
                        if isinstance(v, dict)
                    ],
                )
            )
        slot = o.get("slot")
        return Order(
            order_ref=ref,
            channel=channel,
            visit_date=text(o.get("visit_date"), "visit_date", ref),
            slot=slot if isinstance(slot, str) else None,
            items=out,
            payment=Payment(method=text(payment.get("method"), "payment.method", ref), reference=text(payment.get("reference"), "payment.reference", ref)),
        )

    def encode_confirmation(self, c: OrderConfirmation) -> bytes:
        tickets = [{"ticket_id": t.ticket_id, "code": t.code, "product": t.product, "visit_date": t.visit_date} for t in c.tickets]
        body = {"order_id": c.order_id, "order_ref": c.order_ref, "total_fen": c.total_fen, "tickets": tickets, "group_code": c.group_code}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
