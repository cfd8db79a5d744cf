#!/usr/bin/env python3
"""Writes the seed corpus core/fuzz/corpus/<target>/ from tests/vectors.

Each file is one input in the target's format (see src/lib.rs and the doc
comment of each target), named by its SHA-1 as libFuzzer names its own.
Inputs over MAX_SEED bytes are left out to keep the committed corpus small;
the fuzzer grows long inputs itself (make fuzz allows up to 1 MiB).

Usage: python3 core/fuzz/seed_corpus.py   (rewrites the corpus directories)
"""

import hashlib
import json
import shutil
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
VECTORS = FUZZ.parent.parent / "tests" / "vectors"
CORPUS = FUZZ / "corpus"
SEP = b"\xff"
MAX_SEED = 16 * 1024

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def load(name):
    return json.loads((VECTORS / f"{name}.json").read_text())["cases"]


def frame_bytes(v):
    """A frame in the vectors: text, hex text, or {"utf8"|"hex": ...}."""
    if v is None:
        return None
    if isinstance(v, dict):
        return v["utf8"].encode() if "utf8" in v else bytes.fromhex(v["hex"])
    return v.encode()


def hexbytes(v):
    try:
        return bytes.fromhex(v)
    except (TypeError, ValueError):
        return None


class Corpus:
    def __init__(self):
        self.seeds = {}

    def add(self, target, data):
        if data is None or len(data) > MAX_SEED:
            return
        self.seeds.setdefault(target, set()).add(bytes(data))

    def write(self):
        total = 0
        for target, seeds in sorted(self.seeds.items()):
            d = CORPUS / target
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            for s in seeds:
                (d / hashlib.sha1(s).hexdigest()).write_bytes(s)
                total += len(s)
            print(f"{target}: {len(seeds)} seeds")
        print(f"total: {sum(len(s) for s in self.seeds.values())} files, {total} bytes")


def ctx_selector(ctx):
    """The index in src/lib.rs `contexts()` closest to a vector's context."""
    if not ctx or not any(ctx.values()):
        return 0
    if ctx.get("traceparent") is None:
        return 4
    if ctx.get("baggage"):
        return 3
    return 2 if ctx.get("tracestate") else 1


def codec_selector(path, mode, strip, ctx):
    """The codec target's selector: placement (default path, params._meta,
    MCP), strip, context."""
    placement = 2 if mode == "mcp" else 1 if path == "params._meta" else 0
    return bytes([placement + 3 * int(strip) + 6 * ctx])


# The bridge's byte format (bindings-bridge/src/wire.rs), little-endian.
def u32(n):
    return struct.pack("<I", n)


def s(text):
    b = text.encode()
    return u32(len(b)) + b


def context_record(tp, tracestate, baggage, remote=True):
    out = bytes([(1 if tp else 0) | (2 if remote else 0)])
    if tp:
        parts = tp.split("-")
        out += parts[1].encode() + parts[2].encode() + bytes([int(parts[3], 16)])
    out += u32(len(tracestate)) + b"".join(s(k) + s(v) for k, v in tracestate)
    out += u32(len(baggage))
    for key, value, metadata, props in baggage:
        out += s(key) + s(value) + s(metadata) + u32(len(props))
        for pk, pv in props:
            out += s(pk) + bytes([pv is not None]) + s(pv or "")
    return out


def main():
    c = Corpus()

    for case in load("traceparent"):
        c.add("traceparent", case["input"].encode())

    for case in load("tracestate"):
        if "input" in case:
            c.add("tracestate", "\n".join(case["input"]).encode())

    for case in load("baggage"):
        if "input" in case:
            c.add("baggage", "\n".join(case["input"]).encode())

    for case in load("envelope_json"):
        frame = frame_bytes(case.get("frame")) or b""
        # json_envelope's placements: these paths, then MCP mode (PLACEMENTS).
        paths = ["", "params._meta", "a", "traceparent"]
        if case.get("mode") == "mcp":
            placement = len(paths)
        else:
            p = "" if case.get("path") == "tracewire" else case.get("path", "")
            placement = paths.index(p) if p in paths else 0
        ctx = ctx_selector(case.get("context"))
        c.add("json_envelope", bytes([placement + (len(paths) + 1) * ctx]) + frame)
        c.add("codec", codec_selector(case.get("path"), case.get("mode"), True, ctx) + frame)
        c.add("codec", bytes([0]) + frame)

    for case in load("envelope_binary"):
        for key in ("frame", "payload"):
            b = hexbytes(case.get(key))
            if b is not None:
                c.add("binary_envelope", b)
                c.add("codec", bytes([ctx_selector(case.get("context")) << 2]) + b)
        frame = hexbytes(case.get("frame"))
        if frame is not None and case.get("op") == "encode":
            payload = hexbytes(case.get("payload")) or b""
            c.add("carrier", frame[: len(frame) - len(payload)])
        elif frame is not None:
            c.add("carrier", frame)

    for case in load("codec"):
        frame = frame_bytes(case.get("frame")) or b""
        strip = case.get("strip") is not False
        ctx = ctx_selector(case.get("context"))
        c.add("codec", codec_selector(case.get("json_path"), case.get("json_mode"), strip, ctx) + frame)

    for case in load("handshake"):
        sup = case.get("supported") or ["json", "binary"]
        sel = (1 if "json" in sup else 0) | (2 if "binary" in sup else 0)
        fields = [bytes([sel]), (case.get("query") or "").encode()]
        for name, value in case.get("headers") or []:
            fields += [name.encode(), value.encode()]
        for offer in case.get("offered") or []:  # op=select: the subprotocol offer
            fields += [b"sec-websocket-protocol", offer.encode()]
        c.add("handshake", SEP.join(fields))
        pairs = []
        for name, value in case.get("headers") or []:
            pairs += [name.encode(), value.encode()]
        if pairs:
            c.add("propagator", SEP.join(pairs))

    for case in load("target"):
        scheme = {None: b"\x00", "ws": b"\x01", "wss": b"\x02"}[case.get("scheme")]
        fields = [(case.get("url") or "").encode(), scheme]
        if case.get("side") == "server":
            host = case.get("host")
            fields += [host.encode() if host is not None else b"\xc0", case["request_target"].encode()]
        c.add("target", SEP.join(fields))

    # The bridge byte format: one record of each kind.
    attrs = u32(4) + s("s") + b"\x00" + s("text") + s("i") + b"\x01" + struct.pack("<q", -2)
    attrs += s("f") + b"\x02" + struct.pack("<d", 0.25) + s("b") + b"\x03\x01"
    c.add("bridge_wire", b"\x00" + attrs)
    rec = context_record(TP, [("congo", "t61rcWkgMzE"), ("rojo", "00f067aa0ba902b7")],
                         [("userId", "alice", "p=1;q", [("p", "1"), ("q", None)]),
                          ("k", "v w", "", [])])
    c.add("bridge_wire", b"\x01" + rec)
    c.add("bridge_wire", b"\x01" + context_record(None, [], [("k", "v", "prop", [])], remote=False))
    c.add("bridge_wire", b"\x02" + s("k") + s("v") + s("p=1") + u32(0))
    c.add("bridge_wire", b"\x03" + u32(2) + b"\x00\x01" + u32(1) + b"\x00" + u32(0x3f))
    for event in range(4):
        for model in range(2):
            decide = bytes([model, 1]) + s("sess-1") + s("/chat") + b"\x01" + s("example.com")
            decide += struct.pack("<i", 443) + bytes([event, 0]) + struct.pack("<q", 5)
            decide += struct.pack("<i", 1000) + s("bye")
            # The trust policy's remote context (parent, link, ignore) and a skipped count.
            decide += bytes([(event + model) % 3]) + struct.pack("<q", 2)
            # The route template (empty: none).
            decide += s("/chat/{room}" if event % 2 else "")
            c.add("bridge_wire", b"\x04" + decide)

    c.write()


if __name__ == "__main__":
    main()
