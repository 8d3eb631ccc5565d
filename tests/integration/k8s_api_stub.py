#!/usr/bin/python3
"""A stand-in for the Kubernetes API server's pod endpoints (not part of sonde):
a real kube-apiserver cannot run here. test_k8s_api.sh drives it.

    k8s_api_stub.py PORT DIR CERT KEY TOKEN NODE

HTTPS on 127.0.0.1:PORT with CERT/KEY. Answers what sonde asks of the API, as
the API server answers it (https://kubernetes.io/docs/reference/using-api/api-concepts/):
  GET /api/v1/pods?fieldSelector=spec.nodeName=NODE
      a PodList of the pods in DIR/pods.json (a JSON list of Pod objects),
      metadata.resourceVersion "100";
  the same with watch=1&resourceVersion=RV: a chunked stream of watch events,
      one JSON object per line: every 0.1 s, each file DIR/event-*.json not
      sent yet (in name order) as one event, and a BOOKMARK every 2 s; ends
      after timeoutSeconds.
Without "Authorization: Bearer TOKEN": 401 with a Status object. Any other
fieldSelector: 400. Each request is logged to DIR/requests.log as
"METHOD PATH?QUERY auth=ok|bad".
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

PORT, DIR, CERT, KEY, TOKEN, NODE = sys.argv[1:7]
LOCK = threading.Lock()


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization") == "Bearer " + TOKEN
        with LOCK, open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write("GET %s auth=%s\n" % (self.path, "ok" if auth else "bad"))
        if not auth:
            return self.answer(401, status(401, "Unauthorized", "Unauthorized"))
        if url.path != "/api/v1/pods":
            return self.answer(404, status(404, "NotFound", "the server could not find the requested resource"))
        if q.get("fieldSelector") != ["spec.nodeName=" + NODE]:
            return self.answer(400, status(400, "BadRequest", "want this node's pods"))
        if q.get("watch", ["0"])[0] not in ("1", "true"):
            with open(os.path.join(DIR, "pods.json")) as f:
                pods = json.load(f)
            return self.answer(200, {"kind": "PodList", "apiVersion": "v1",
                                     "metadata": {"resourceVersion": "100"}, "items": pods})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent, rv = set(), 100
        until = time.time() + int(q.get("timeoutSeconds", ["300"])[0])
        last_bookmark = time.time()
        try:
            while time.time() < until:
                for name in sorted(os.listdir(DIR)):
                    if name.startswith("event-") and name.endswith(".json") and name not in sent:
                        sent.add(name)
                        with open(os.path.join(DIR, name)) as f:
                            ev = json.load(f)
                        rv += 1
                        ev["object"].setdefault("metadata", {})["resourceVersion"] = str(rv)
                        self.chunk(json.dumps(ev).encode() + b"\n")
                        with LOCK, open(os.path.join(DIR, "requests.log"), "a") as f:
                            f.write("sent %s\n" % name)
                if time.time() - last_bookmark > 2:
                    last_bookmark = time.time()
                    self.chunk(json.dumps({"type": "BOOKMARK", "object": {
                        "kind": "Pod", "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(rv)}}}).encode() + b"\n")
                time.sleep(0.1)
            self.chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
server.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
