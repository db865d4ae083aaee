"""{{name}}: a gate-adapter plugin in Python. It reads the venue's unified scan as JSON and
writes verdicts and whitelist changes as JSON; replace both with your turnstiles' format,
and the samples in conformance.toml with payloads of it.

A function returning `result<T, E>` returns T, or raises `Err(E)`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import DecodeError, Direction, Scan, Verdict, WhitelistDelta

# The host's limit on a ticket code; refusing a longer one here is cheaper than copying it out.
CODE_BYTES_MAX = 128
# Brackets a scan may hold; counted (at C speed) before parsing, so a payload nested a
# hundred thousand deep is refused within the deadline instead of walked.
BRACKETS_MAX = 64


def refuse(code, message, event_id=None):
    raise Err(DecodeError(code=code, message=message, event_id=event_id if isinstance(event_id, str) else None))


class Gate(exports.Gate):
    def decode_scan(self, device: str, payload: bytes) -> Scan:
        payload = bytes(payload)
        if payload.count(b"{") + payload.count(b"[") > BRACKETS_MAX:
            refuse("bad_json", "not a JSON scan: nested too deep")
        try:
            s = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            log.log(log.Level.DEBUG, "%s: not JSON: %s" % (device, e))
            refuse("bad_json", "not a JSON scan: %s" % e)
        if not isinstance(s, dict):
            refuse("bad_json", "a scan is a JSON object")
        for key in ("event_id", "code", "at"):
            if not isinstance(s.get(key), str):
                refuse("bad_json", "%s must be a string" % key, s.get("event_id"))
        direction = {"in": Direction.IN, "out": Direction.OUT}.get(s.get("direction"))
        if direction is None:
            refuse("bad_direction", "direction must be in or out", s["event_id"])
        if not 0 < len(s["code"].encode("utf-8")) <= CODE_BYTES_MAX:
            refuse("bad_code", "code must be 1 to %d bytes" % CODE_BYTES_MAX, s["event_id"])
        count = s.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 0xFFFFFFFF:
            refuse("bad_count", "count must be a whole number from 1", s["event_id"])
        id_number = s.get("id_number")
        return Scan(
            event_id=s["event_id"],
            code=s["code"],
            direction=direction,
            at=s["at"],
            count=count,
            id_number=id_number if isinstance(id_number, str) else None,
            offline=s.get("offline") is True,
        )

    def encode_verdict(self, device: str, v: Verdict) -> bytes:
        return json.dumps(
            {
                "event_id": v.event_id,
                "decision": v.decision.name.lower(),
                "reason": v.reason.name.lower(),
                "ticket_id": v.ticket_id,
                "admitted": v.admitted,
                "entries_left": v.entries_left,
                "message": v.message,
            },
            ensure_ascii=False,
        ).encode("utf-8")

    def encode_whitelist(self, device: str, d: WhitelistDelta) -> bytes:
        add = [
            {
                "code": e.code,
                "ticket_id": e.ticket_id,
                "visit_date": e.visit_date,
                "slot": e.slot,
                "entries": e.entries,
                "party_size": e.party_size,
            }
            for e in d.add
        ]
        return json.dumps({"gate": d.gate, "seq": d.seq, "add": add, "remove": list(d.remove)}).encode("utf-8")
