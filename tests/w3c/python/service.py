"""W3C Trace Context test service (github.com/w3c/trace-context, test/):
tracewire's propagator with opentelemetry-python's SDK making the span.

For each POST, the harness's headers are extracted with W3CPropagator, the
SDK starts a server span under them, and each {"url", "arguments"} of the
JSON body is posted onward with that span's context injected.

Usage: python service.py PORT   (listens on 127.0.0.1:PORT/test)
"""

import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider
from tracewire import W3CPropagator

PROPAGATOR = W3CPropagator()
TRACER = TracerProvider().get_tracer("tracewire-w3c")


class AllLines(Getter):
    """Every line of a header (the harness sends some headers twice)."""

    def get(self, carrier, key):
        # An HTTP field value has no leading or trailing whitespace (RFC 9110
        # 5.5); http.server keeps the trailing part.
        lines = carrier.get_all(key)
        return [line.strip(" \t") for line in lines] if lines else None

    def keys(self, carrier):
        return list(carrier.keys())


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parent = PROPAGATOR.extract(self.headers, getter=AllLines())
        with TRACER.start_as_current_span("w3c", context=parent, kind=trace.SpanKind.SERVER):
            for call in json.loads(body or b"[]"):
                with TRACER.start_as_current_span("call", kind=trace.SpanKind.CLIENT):
                    headers = {"Content-Type": "application/json"}
                    PROPAGATOR.inject(headers)
                    request = urllib.request.Request(
                        call["url"], data=json.dumps(call["arguments"]).encode(), headers=headers
                    )
                    urllib.request.urlopen(request, timeout=5).read()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
