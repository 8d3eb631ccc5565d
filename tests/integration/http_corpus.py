#!/usr/bin/python3
"""Malformed and unusual HTTP/1.x requests, for test_http_malformed.sh (issue #9).

The server's response is the truth: every status line the observed server
writes is one exchange. This file holds the corpus, a test server, a driver
that sends each case byte for byte over a raw socket and reads back the
status lines the server really wrote, and the comparison with sonde's
http_server_requests_seconds_count. Standard library only.

Modes:
  list                              the corpus, one case a line
  selftest                          check the response parser on made-up streams
  serve PORT                        the python http.server the test observes
  send PORT OUTFILE                 run the corpus against 127.0.0.1:PORT, write
                                    what the server answered (JSON)
  run PORT SONDE_PORT SERVICE OUTFILE
                                    the same, and around each case snapshot
                                    sonde's /metrics: per case, the delta of
                                    http_server_requests_seconds_count{service}
                                    summed over uri (and outcome), per (method,
                                    status), against the status lines read
  report [--summary FILE] OUTFILE...
                                    per-case and per-class tables of `send` or
                                    `run` results; FILE gets one line per
                                    service and class, `service class cases
                                    lines counted mismatches`, and one per
                                    service, `service UNKNOWN n` (the count
                                    sonde put under uri="UNKNOWN"); exit 1 if
                                    any case mismatched

A case is (name, class, chunks, units). chunks: the bytes to send, one piece
or several sent 50 ms apart. units: the expected method label of each request
in the bytes, in order: the method if the request's first token is in IANA's
HTTP Method Registry (or PURGE), else OTHER. The i-th status line the server
writes is labelled with the i-th unit's label; status lines past the last unit
(answers to bytes the author did not take for a request) are labelled OTHER.
Interim 1xx responses other than 101 are not exchanges and are not counted.
"""

import collections
import json
import re
import socket
import sys
import time
import urllib.request

# ------------------------------------------------------------------ corpus

HOST = b"Host: localhost\r\n"
# IANA's HTTP Method Registry ("*" excepted) and PURGE: the labels sonde must
# keep. Used only to check the corpus's own labels.
REGISTERED = set(
    "ACL BASELINE-CONTROL BIND CHECKIN CHECKOUT CONNECT COPY DELETE GET HEAD LABEL "
    "LINK LOCK MERGE MKACTIVITY MKCALENDAR MKCOL MKREDIRECTREF MKWORKSPACE MOVE "
    "OPTIONS ORDERPATCH PATCH POST PRI PROPFIND PROPPATCH PURGE PUT QUERY REBIND "
    "REPORT SEARCH TRACE UNBIND UNCHECKOUT UNLINK UNLOCK UPDATE UPDATEREDIRECTREF "
    "VERSION-CONTROL".split()
)

CLASSES = {
    0: "baseline (valid requests)",
    1: "rejected requests",
    2: "valid, then malformed",
    3: "CONNECT / Upgrade + bytes",
    4: "CRLF start, M-SEARCH, RTSP",
    5: "registered methods",
}


def req(method, target=b"/api/orders", version=b"HTTP/1.1", headers=HOST, body=b""):
    """One request head (and body) as bytes; headers: raw header lines."""
    return method + b" " + target + b" " + version + b"\r\n" + headers + b"\r\n" + body


def cl(n):
    return b"Content-Length: %d\r\n" % n


TLS_HELLO = bytes.fromhex(
    "16030100a5010000a10303" + "00" * 32 + "000020c02bc02fc02cc030cca9cca8c013c014"
    "009c009d002f0035000a0100005800000014001200000f7777772e6578616d706c652e636f6d"
)
WS_FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # masked "Hello"
WS_CLOSE = b"\x88\x80\x00\x00\x00\x00"
WS_HEAD = (HOST + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
XML = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def C(name, cls, chunks, units):
    if isinstance(chunks, bytes):
        chunks = [chunks]
    return {"name": name, "cls": cls, "chunks": chunks, "units": units}


CORPUS = [
    # ---- 0: valid baseline
    C("get", 0, req(b"GET"), ["GET"]),
    C("get_id_close", 0, req(b"GET", b"/api/products/7", headers=HOST + b"Connection: close\r\n"), ["GET"]),
    C("head", 0, req(b"HEAD"), ["HEAD"]),
    C("post_body", 0, req(b"POST", headers=HOST + cl(11), body=b"hello world"), ["POST"]),
    C("post_chunked", 0, req(b"POST", headers=HOST + b"Transfer-Encoding: chunked\r\n",
                             body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), ["POST"]),
    C("http10_404", 0, req(b"GET", b"/nope", b"HTTP/1.0", b""), ["GET"]),
    C("pipelined_3_valid", 0, req(b"GET") + req(b"HEAD", b"/api/products/3") + req(b"GET", b"/api/fail"),
      ["GET", "HEAD", "GET"]),
    # The python server's /echo body holds a fake "HTTP/1.1 200 OK" response.
    C("body_holds_status_line", 0, req(b"GET", b"/echo") + req(b"DELETE"), ["GET", "DELETE"]),
    # ---- 1: requests the server rejects
    C("cl_duplicate_differ", 1, req(b"POST", headers=HOST + cl(5) + cl(6), body=b"hello!"), ["POST"]),
    C("cl_duplicate_same", 1, req(b"POST", headers=HOST + cl(5) + cl(5), body=b"hello"), ["POST"]),
    C("cl_alpha", 1, req(b"POST", headers=HOST + b"Content-Length: abc\r\n", body=b"abc"), ["POST"]),
    C("cl_negative", 1, req(b"POST", headers=HOST + b"Content-Length: -1\r\n"), ["POST"]),
    C("cl_list", 1, req(b"POST", headers=HOST + b"Content-Length: 5, 5\r\n", body=b"hello"), ["POST"]),
    C("cl_and_chunked", 1, req(b"POST", headers=HOST + cl(5) + b"Transfer-Encoding: chunked\r\n",
                               body=b"5\r\nhello\r\n0\r\n\r\n"), ["POST"]),
    C("version_ice", 1, req(b"GET", version=b"ICE/1.0"), ["GET"]),
    C("version_5_6", 1, req(b"GET", version=b"HTTP/5.6"), ["GET"]),
    C("version_lowercase", 1, req(b"GET", version=b"http/1.1"), ["GET"]),
    C("version_no_minor", 1, req(b"PUT", version=b"HTTP/1", headers=HOST + cl(2), body=b"{}"), ["PUT"]),
    C("header_name_space", 1, req(b"GET", headers=HOST + b"X Bad: 1\r\n"), ["GET"]),
    C("header_name_ctl", 1, req(b"GET", headers=HOST + b"X-Bad\x01: 1\r\n"), ["GET"]),
    C("header_name_space_colon", 1, req(b"GET", headers=b"Host : localhost\r\n"), ["GET"]),
    C("header_value_nul", 1, req(b"GET", headers=HOST + b"X-Val: a\x00b\r\n"), ["GET"]),
    C("header_value_bare_cr", 1, req(b"GET", headers=HOST + b"X-Val: a\rb\r\n"), ["GET"]),
    C("header_no_colon", 1, req(b"GET", headers=HOST + b"NoColonHere\r\n"), ["GET"]),
    C("obs_fold", 1, req(b"GET", headers=HOST + b"X-Fold: a\r\n  b\r\n"), ["GET"]),
    C("obs_fold_first", 1, req(b"POST", headers=b" X-Lead: a\r\n" + HOST + cl(2), body=b"ok"), ["POST"]),
    C("no_version_get", 1, b"GET /api/orders\r\n", ["GET"]),
    C("no_version_post", 1, b"POST /api/orders\r\n\r\n", ["POST"]),
    C("no_version_headers", 1, b"GET /nope\r\n" + HOST + b"\r\n", ["GET"]),
    C("lowercase_method", 1, req(b"get"), ["OTHER"]),
    C("tls_hello", 1, TLS_HELLO, ["OTHER"]),
    # ---- 2: a valid request, then a malformed one, on one connection
    C("ok_then_ice", 2, req(b"GET") + req(b"GET", version=b"ICE/1.0"), ["GET", "GET"]),
    C("ok_then_cl_alpha", 2, req(b"GET") + req(b"POST", headers=HOST + b"Content-Length: x\r\n"),
      ["GET", "POST"]),
    C("ok_ok_then_5_6", 2, req(b"GET") + req(b"HEAD") + req(b"GET", version=b"HTTP/5.6"),
      ["GET", "HEAD", "GET"]),
    C("post_then_garbage", 2, req(b"POST", headers=HOST + cl(5), body=b"hello") + b"\x00\x01\x02garbage\r\n\r\n",
      ["POST", "OTHER"]),
    C("ok_then_nul_header", 2, req(b"GET") + req(b"GET", headers=HOST + b"X-Val: \x00\r\n"), ["GET", "GET"]),
    C("ok_then_fold", 2, req(b"GET") + req(b"GET", headers=HOST + b"X-Fold: a\r\n\tb\r\n"), ["GET", "GET"]),
    C("ok_then_no_version", 2, req(b"GET") + b"GET /api/orders\r\n\r\n", ["GET", "GET"]),
    C("ok_post_then_cl_dup", 2, req(b"GET", b"/api/products/1") + req(b"POST", headers=HOST + cl(3), body=b"abc")
      + req(b"POST", headers=HOST + cl(3) + cl(4), body=b"abcd"), ["GET", "POST", "POST"]),
    C("ok_then_htcpcp_2pieces", 2, [req(b"GET"), b"BREW /pot HTCPCP/1.0\r\n\r\n"], ["GET", "OTHER"]),
    C("ok_then_lowercase", 2, req(b"GET") + req(b"get"), ["GET", "OTHER"]),
    C("ok_bad_ok", 2, req(b"GET") + req(b"GET", version=b"ICE/1.0") + req(b"GET"), ["GET", "GET", "GET"]),
    C("ok_then_header_space", 2, req(b"PUT", headers=HOST + cl(2), body=b"{}")
      + req(b"DELETE", headers=HOST + b"Bad Name: 1\r\n"), ["PUT", "DELETE"]),
    # ---- 3: CONNECT and Upgrade, then bytes after the head
    C("connect_10_tls", 3, b"CONNECT example.com:443 HTTP/1.0\r\n\r\n" + TLS_HELLO, ["CONNECT"]),
    C("connect_10_2pieces", 3, [b"CONNECT example.com:443 HTTP/1.0\r\n\r\n", TLS_HELLO], ["CONNECT"]),
    C("connect_11_host", 3, b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n" + TLS_HELLO,
      ["CONNECT"]),
    C("get_upgrade_ws", 3, req(b"GET", headers=WS_HEAD) + WS_FRAME, ["GET", "OTHER"]),
    C("get_upgrade_ws_2pieces", 3, [req(b"GET", headers=WS_HEAD), WS_FRAME + WS_CLOSE], ["GET", "OTHER"]),
    C("get_upgrade_h2c", 3, req(b"GET", headers=HOST + b"Connection: Upgrade, HTTP2-Settings\r\n"
                                b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n") + H2_PREFACE,
      ["GET", "PRI"]),
    C("post_upgrade_text", 3, req(b"POST", headers=WS_HEAD + cl(4), body=b"ping") + b"hello over the upgrade\r\n\r\n",
      ["POST", "OTHER"]),
    C("put_upgrade_binary", 3, req(b"PUT", headers=HOST + b"Upgrade: foo/1\r\nConnection: Upgrade\r\n" + cl(3),
                                   body=b"abc") + b"\x00\xff\x10\x20binary tail",
      ["PUT", "OTHER"]),
    # ---- 4: an empty line first, M-SEARCH, other protocols' request lines
    C("crlf_then_get", 4, b"\r\n" + req(b"GET"), ["GET"]),
    C("crlf_crlf_then_get", 4, b"\r\n\r\n" + req(b"GET", b"/api/products/9"), ["GET"]),
    C("crlf_then_post_body", 4, b"\r\n" + req(b"POST", headers=HOST + cl(4), body=b"body"), ["POST"]),
    C("get_crlf_get", 4, req(b"GET") + b"\r\n" + req(b"GET"), ["GET", "GET"]),
    C("m_search", 4, b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
      b"MX: 1\r\nST: ssdp:all\r\n\r\n", ["OTHER"]),
    C("ok_then_m_search", 4, req(b"GET") + b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n", ["GET", "OTHER"]),
    C("notify_star", 4, b"NOTIFY * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nNTS: ssdp:alive\r\n\r\n", ["OTHER"]),
    C("options_star", 4, req(b"OPTIONS", b"*"), ["OPTIONS"]),
    C("rtsp_options", 4, b"OPTIONS rtsp://localhost/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n", ["OPTIONS"]),
    C("rtsp_describe", 4, b"DESCRIBE rtsp://localhost/stream RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
      ["OTHER"]),
    C("sip_invite", 4, b"INVITE sip:bob@localhost SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", ["OTHER"]),
    # ---- 5: registered methods beyond the common ones (and two that are not)
    C("propfind", 5, req(b"PROPFIND", headers=HOST + b"Depth: 1\r\nContent-Type: application/xml\r\n" + cl(len(XML)),
                         body=XML), ["PROPFIND"]),
    C("mkcol", 5, req(b"MKCOL", b"/api/products/12"), ["MKCOL"]),
    C("copy", 5, req(b"COPY", headers=HOST + b"Destination: /api/orders2\r\n"), ["COPY"]),
    C("move", 5, req(b"MOVE", b"/api/products/5", headers=HOST + b"Destination: /api/products/6\r\n"), ["MOVE"]),
    C("lock", 5, req(b"LOCK", headers=HOST + cl(len(XML)), body=XML), ["LOCK"]),
    C("unlock", 5, req(b"UNLOCK", headers=HOST + b"Lock-Token: <urn:uuid:e71d4fae>\r\n"), ["UNLOCK"]),
    C("report", 5, req(b"REPORT", headers=HOST + cl(len(XML)), body=XML), ["REPORT"]),
    C("search", 5, req(b"SEARCH", headers=HOST + cl(7), body=b"q=shoes"), ["SEARCH"]),
    C("purge", 5, req(b"PURGE", b"/api/products/77"), ["PURGE"]),
    C("link", 5, req(b"LINK", headers=HOST + b"Link: </api/products/1>; rel=\"item\"\r\n"), ["LINK"]),
    C("unlink", 5, req(b"UNLINK", headers=HOST + b"Link: </api/products/1>; rel=\"item\"\r\n"), ["UNLINK"]),
    C("query", 5, req(b"QUERY", headers=HOST + b"Content-Type: application/x-www-form-urlencoded\r\n" + cl(5),
                      body=b"a=b&c"), ["QUERY"]),
    C("pipelined_dav_3", 5, req(b"PROPPATCH", headers=HOST + cl(len(XML)), body=XML) + req(b"MKCALENDAR")
      + req(b"VERSION-CONTROL"), ["PROPPATCH", "MKCALENDAR", "VERSION-CONTROL"]),
    C("pipelined_get_acl", 5, req(b"GET") + req(b"ACL", headers=HOST + cl(2), body=b"<>"), ["GET", "ACL"]),
    C("unregistered_foo", 5, req(b"FOO"), ["OTHER"]),
    C("unregistered_propfindx", 5, req(b"PROPFINDX"), ["OTHER"]),
]


def check_corpus():
    names = set()
    for c in CORPUS:
        assert c["name"] not in names, c["name"]
        names.add(c["name"])
        assert c["cls"] in CLASSES
        for u in c["units"]:
            assert u == "OTHER" or u in REGISTERED, (c["name"], u)


# ---------------------------------------------------------- response parsing

STATUS_RE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: [^\r\n]*)?")


def parse_responses(data, units, eof):
    """Walk the HTTP/1.x responses in DATA (what the server sent).

    units: the method label of each request, in order (HEAD: no body). eof:
    the server closed the connection (a close-delimited body is complete).
    Returns a dict: statuses (one per status line that is an exchange:
    1xx other than 101 excepted), labels (the method label of each), interim
    (the 1xx skipped), complete (the last response is whole), stray (bytes
    that are no part of a status-line response, e.g. an HTTP/0.9 answer),
    tunnel (bytes after a 101 or a 2xx to CONNECT), note.
    """
    r = {"statuses": [], "labels": [], "interim": [], "complete": True, "stray": 0, "tunnel": 0, "note": ""}
    pos = 0
    n = len(data)
    while pos < n:
        if not data.startswith(b"HTTP/", pos):
            if n - pos < 5 and b"HTTP/".startswith(data[pos:]):
                r["complete"] = False  # the start of a status line
            else:
                r["stray"] = n - pos
                r["note"] = "bytes without a status line: %r" % data[pos:pos + 24]
            break
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            r["complete"] = False
            break
        m = STATUS_RE.fullmatch(data, pos, eol)
        if not m:
            r["stray"] = n - pos
            r["note"] = "bad status line %r" % data[pos:eol][:40]
            break
        status = int(m.group(3))
        label = units[len(r["statuses"])] if len(r["statuses"]) < len(units) else "OTHER"
        end = data.find(b"\r\n\r\n", eol)
        interim = 100 <= status < 200 and status != 101
        if not interim:
            r["statuses"].append(status)
            r["labels"].append(label)
        else:
            r["interim"].append(status)
        if end < 0:  # head cut short: the status line was written all the same
            r["complete"] = False
            break
        headers = {}
        for line in data[eol + 2:end].split(b"\r\n"):
            k, _, v = line.partition(b":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        pos = end + 4
        if interim:
            continue
        if status == 101 or (label == "CONNECT" and 200 <= status < 300):
            r["tunnel"] = n - pos
            r["complete"] = eof
            break
        if label == "HEAD" or status in (204, 304):
            continue
        te = b",".join(headers.get(b"transfer-encoding", [])).lower()
        if b"chunked" in te:
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    r["complete"] = False
                    return r
                try:
                    size = int(data[pos:eol].split(b";")[0].strip(), 16)
                except ValueError:
                    r["note"] = "bad chunk size %r" % data[pos:eol][:20]
                    return r
                pos = eol + 2
                if size == 0:
                    end = data.find(b"\r\n\r\n", pos - 2)
                    if end < 0:
                        r["complete"] = False
                        return r
                    pos = end + 4
                    break
                pos += size + 2
                if pos > n:
                    r["complete"] = False
                    return r
        elif b"content-length" in headers:
            pos += int(headers[b"content-length"][0])
            if pos > n:
                r["complete"] = False
                break
        else:  # delimited by the server's close
            r["complete"] = eof
            break
    return r


def selftest():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nHTTP/1.1 200 OK\r\n"
    r = parse_responses(ok + ok, ["GET", "GET"], False)
    assert r["statuses"] == [200, 200] and r["complete"], r
    r = parse_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" + ok, ["HEAD", "GET"], False)
    assert r["statuses"] == [200, 200] and r["labels"] == ["HEAD", "GET"], r
    ch = b"HTTP/1.1 404 X\r\nTransfer-Encoding: chunked\r\n\r\n11\r\nHTTP/1.1 200 OK\r\n\r\n0\r\n\r\n"
    r = parse_responses(ch + ok, ["GET", "GET"], False)
    assert r["statuses"] == [404, 200] and r["complete"], r
    r = parse_responses(b"HTTP/1.1 100 Continue\r\n\r\n" + ok, ["POST"], False)
    assert r["statuses"] == [200] and r["interim"] == [100], r
    r = parse_responses(b"<html>400</html>", ["GET"], True)
    assert r["statuses"] == [] and r["stray"] == 16, r
    r = parse_responses(b"HTTP/1.0 400 Bad\r\n\r\nHTTP/1.1 200 OK\r\n", ["GET"], True)
    assert r["statuses"] == [400] and r["labels"] == ["GET"], r
    r = parse_responses(ok + b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", ["GET"], True)
    assert r["labels"] == ["GET", "OTHER"], r
    r = parse_responses(b"HTTP/1.1 101 Switching\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", ["GET"], True)
    assert r["statuses"] == [101] and r["tunnel"] == 19, r
    print("selftest: response parser ok")


# ----------------------------------------------------------------- the driver


def exchange(port, case):
    """Send the case on a new connection; read until close or silence."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    send_err = ""
    for i, chunk in enumerate(case["chunks"]):
        if i:
            time.sleep(0.05)
        try:
            s.sendall(chunk)
        except OSError as e:
            send_err = "send: %s" % e.__class__.__name__
            break
    buf = b""
    end = "open"
    while True:
        p = parse_responses(buf, case["units"], False)
        # Once every request has its complete answer, a short silence ends the
        # read; before that (or after a reply the author did not expect)
        # wait up to 2 s for more.
        done = p["complete"] and len(p["statuses"]) >= len(case["units"]) and not p["stray"]
        s.settimeout(0.15 if done else 2.0)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            end = "reset"
            break
        if not d:
            end = "closed"
            break
        buf += d
    s.close()
    p = parse_responses(buf, case["units"], end != "open")
    p.update(end=end, bytes=len(buf), send_err=send_err, secs=round(time.monotonic() - t0, 3),
             head=buf[:60].decode("latin-1"))
    return p


def expected_of(p):
    """{(method label, status): count} of the status lines read."""
    e = collections.Counter()
    for lab, st in zip(p["labels"], p["statuses"]):
        e[(lab, str(st))] += 1
    return e


# ------------------------------------------------------------- sonde metrics

SAMPLE_RE = re.compile(r'^http_server_requests_seconds_count\{(.*)\}\s+(\S+)')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(sonde_port, service):
    """{(method, status, uri): count} of the service's samples."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % sonde_port, timeout=5) as f:
        text = f.read().decode()
    out = collections.Counter()
    for line in text.splitlines():
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        lab = dict(LABEL_RE.findall(m.group(1)))
        if lab.get("service") != service:
            continue
        out[(lab.get("method", "?"), lab.get("status", "?"), lab.get("uri", "?"))] += float(m.group(2))
    return out


def delta(before, after):
    """Per (method, status): the change, summed over uri; and the uris that moved."""
    d = collections.Counter()
    uris = collections.Counter()
    for k in set(before) | set(after):
        v = after.get(k, 0) - before.get(k, 0)
        if v:
            d[(k[0], k[1])] += v
            uris[k[2]] += v
    return {k: v for k, v in d.items() if v}, {k: v for k, v in uris.items() if v}


def settle(sonde_port, service, before, want):
    """sonde's delta once it equals WANT (and stays), or stops moving."""
    t0 = time.monotonic()
    last, since = None, t0
    while True:
        d, uris = delta(before, scrape(sonde_port, service))
        now = time.monotonic()
        if d == want:
            time.sleep(0.15)
            return delta(before, scrape(sonde_port, service))
        if d != last:
            last, since = d, now
        elif now - since >= 0.3 and now - t0 >= 0.45:
            return d, uris
        if now - t0 > 2.0:
            return d, uris
        time.sleep(0.05)


def key_str(d):
    return " ".join("%s:%s=%g" % (k[0], k[1], v) for k, v in sorted(d.items())) or "-"


def run(port, out, sonde_port=None, service=None):
    results = []
    for case in CORPUS:
        before = scrape(sonde_port, service) if sonde_port else None
        p = exchange(port, case)
        r = {k: case[k] for k in ("name", "cls", "units")}
        r.update(p)
        want = dict(expected_of(p))
        r["expected"] = key_str(want)
        if sonde_port:
            t0 = time.monotonic()
            got, uris = settle(sonde_port, service, before, want)
            r["settle_secs"] = round(time.monotonic() - t0, 3)
            r["sonde"] = key_str(got)
            r["sonde_total"] = sum(got.values())
            r["uris"] = uris
            r["match"] = got == want
        results.append(r)
        if sonde_port and not r["match"]:
            print("  %-9s %-26s read %-22s sonde %s" % (service, case["name"], r["expected"], r["sonde"]),
                  flush=True)
    with open(out, "w") as f:
        json.dump({"port": port, "service": service or "port%d" % port, "cases": results}, f, indent=1)


# ----------------------------------------------------------------- the report


def answered(r):
    s = ",".join(str(x) for x in r["statuses"]) or "none"
    if r["stray"]:
        s += " +%dB no status line" % r["stray"]
    if r["tunnel"]:
        s += " +%dB tunnel" % r["tunnel"]
    return s


def report(files, summary=None):
    runs = []
    summ = []
    for fn in files:
        with open(fn) as f:
            runs.append(json.load(f))
    print("per case: what each server answered (statuses; then open/closed/reset), and sonde's count")
    print("  %-26s %-5s %-30s %s" % ("case", "class", "labels", "  ".join("%-44s" % r["service"] for r in runs)))
    for i, case in enumerate(CORPUS):
        cells = []
        for rn in runs:
            r = rn["cases"][i]
            cell = "%s %s" % (answered(r), r["end"])
            if "match" in r:
                cell += " ok" if r["match"] else " MISMATCH(sonde %s)" % r["sonde"]
            cells.append("%-44s" % cell)
        print("  %-26s %-5d %-30s %s" % (case["name"], case["cls"], ",".join(case["units"])[:30], "  ".join(cells)))
    bad = 0
    print()
    print("per class: status lines the server wrote vs. sonde's count")
    print("  %-9s %-28s %5s %6s %7s %7s %10s" % ("service", "class", "cases", "lines", "counted", "matched",
                                                "mismatches"))
    for rn in runs:
        svc = rn["service"]
        unknown = 0
        for cls, title in CLASSES.items():
            cs = [r for r in rn["cases"] if r["cls"] == cls]
            lines = sum(len(r["statuses"]) for r in cs)
            counted = sum(r.get("sonde_total", 0) for r in cs)
            matched = 0
            for r in cs:
                want = expected_of(r)
                got = collections.Counter()
                for item in r.get("sonde", "").split():
                    if item != "-":
                        k, _, v = item.rpartition("=")
                        got[tuple(k.split(":"))] = float(v)
                matched += sum(min(v, got.get((k[0], k[1]), 0)) for k, v in want.items())
            mism = sum(1 for r in cs if not r.get("match", True))
            bad += mism
            print("  %-9s %-28s %5d %6d %7g %7g %10d" % (svc, "%d %s" % (cls, title), len(cs), lines, counted,
                                                         matched, mism))
            summ.append("%s %d %d %d %g %d" % (svc, cls, len(cs), lines, counted, mism))
        for r in rn["cases"]:
            unknown += r.get("uris", {}).get("UNKNOWN", 0)
        summ.append("%s UNKNOWN %g" % (svc, unknown))
    if summary:
        with open(summary, "w") as f:
            f.write("\n".join(summ) + "\n")
    return 1 if bad else 0


# --------------------------------------------------------------- the server


def serve(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    fake = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno\r\n"

    class Handler(BaseHTTPRequestHandler):
        """Routes as nginx.conf.in's: /api/orders, /api/products/N 200,
        /api/fail 500, else 404; /echo 200 with a body that looks like a
        response. Reads Content-Length and chunked bodies; LINK, UNLINK,
        TRACE, CONNECT and unregistered methods: http.server's 501."""

        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def body(self):
            te = self.headers.get("Transfer-Encoding", "")
            lens = self.headers.get_all("Content-Length") or []
            if te and lens:
                return None
            if "chunked" in te.lower():
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            if not lens:
                return b""
            if len(set(v.strip() for v in lens)) != 1 or not lens[0].strip().isdigit():
                return None
            return self.rfile.read(int(lens[0]))

        def answer(self):
            try:
                body = self.body()
            except ValueError:
                body = None
            if body is None:
                self.send_error(400, "Bad Content-Length or Transfer-Encoding")
                return
            path = self.path.split("?", 1)[0]
            if path == "/echo":
                code, out = 200, fake
            elif path == "/api/orders" or re.fullmatch(r"/api/products/[0-9]+", path):
                code, out = 200, b"ok\n"
            elif path == "/api/fail":
                code, out = 500, b"fail\n"
            else:
                code, out = 404, b"not found\n"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        def log_message(self, *args):
            pass

    for m in ("GET HEAD POST PUT DELETE OPTIONS PATCH PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
              "REPORT SEARCH PURGE QUERY ACL MKCALENDAR VERSION-CONTROL").split():
        setattr(Handler, "do_" + m, Handler.answer)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main(argv):
    check_corpus()
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "list":
        for c in CORPUS:
            print("%d %-26s %-40s %dB" % (c["cls"], c["name"], ",".join(c["units"]), sum(map(len, c["chunks"]))))
        print("%d cases, %d requests" % (len(CORPUS), sum(len(c["units"]) for c in CORPUS)))
    elif mode == "selftest":
        selftest()
    elif mode == "serve":
        serve(int(argv[2]))
    elif mode == "send":
        run(int(argv[2]), argv[3])
    elif mode == "run":
        run(int(argv[2]), argv[5], int(argv[3]), argv[4])
    elif mode == "report":
        if argv[2:3] == ["--summary"]:
            return report(argv[4:], argv[3])
        return report(argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
