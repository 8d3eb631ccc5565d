#!/usr/bin/python3
"""Check the spans sonde exported for test_traces.sh (structure, not format:
the format is checked by zipkin_validate.js against the Zipkin spec).

  check_traces.py chain DIR [--min-complete F] [--trace-id HEX --parent HEX]
      Requests /chain/ID through gateway -> A -> B. Every trace must hold one
      ID (no false merge); the share of IDs whose trace is complete, with
      every parentId right, must reach F (default 0.99).
  check_traces.py loop DIR SERVICE [--must-link PREFIX]
      An event-loop server: GET /loop/ID reads Redis key ID:k. A Redis span
      linked to a SERVER span must be linked to that ID's request: 0 wrong
      parents; prints the linked share. IDs beginning with PREFIX (requests
      sent one at a time) must be linked.

  check_traces.py kafka DIR [--min-linked F] [--deliveries FILE --min-traced G]
      CONSUMER spans joined to the PRODUCER span that wrote their records
      (offsets): every parent is a PRODUCER of the same topic-partition whose
      offsets hold the fetched ones (0 wrong), and at least F (default 0) of
      them are linked. With the service's delivery reports (kafka_app.py): a
      record produced with a traceparent has, in that trace, the service's
      SERVER span, the PRODUCER span and the CONSUMER span of its offset, for
      at least G of them; no CONSUMER span is in another record's trace.
  check_traces.py kafka-headers DIR DELIVERIES [--min-traced G]
      Only the consumer observed: a CONSUMER span of one record continues the
      record's traceparent (its trace, the producer's span as parent) for at
      least G of the records, and none is in another record's trace.

DIR holds the JSON bodies (lists of spans) sonde sent. Prints a summary line
and exits 1 if a check fails.
"""
import collections
import glob
import json
import re
import sys

ID_RE = re.compile(r"^/(?:chain|b|loop)/([A-Za-z0-9_-]+)$")


def load(d):
    spans = {}
    for f in sorted(glob.glob(d + "/*.json")):
        with open(f) as fh:
            for s in json.load(fh):
                spans[(s["traceId"], s["id"], s.get("kind"))] = s
    return list(spans.values())


def ident(s):
    m = ID_RE.match(s.get("tags", {}).get("http.path", ""))
    return m.group(1) if m else None


def svc(s):
    return s.get("localEndpoint", {}).get("serviceName", "")


def chain(spans, args):
    min_complete = 0.99
    want_trace = want_parent = only = None
    skip = set()
    i = 0
    while i < len(args):
        if args[i] == "--min-complete":
            min_complete = float(args[i + 1])
        elif args[i] == "--trace-id":
            want_trace = args[i + 1]
        elif args[i] == "--parent":
            want_parent = args[i + 1]
        elif args[i] == "--only":
            only = args[i + 1]
        elif args[i] == "--skip":
            skip = set(args[i + 1].split(","))
        i += 2
    traces = collections.defaultdict(list)
    for s in spans:
        traces[s["traceId"]].append(s)
    merges = 0
    by_id = collections.defaultdict(set)
    for tid, ss in traces.items():
        ids = {ident(s) for s in ss} - {None}
        if len(ids) > 1:
            merges += 1
        for i in ids:
            by_id[i].add(tid)
    complete = 0
    problems = collections.Counter()
    if only is not None:
        by_id = {only: by_id[only]} if only in by_id else {}
    by_id = {k: v for k, v in by_id.items() if k not in skip}
    for i, tids in by_id.items():
        if len(tids) != 1:
            problems["split"] += 1
            continue
        tid = next(iter(tids))
        ss = traces[tid]
        ok, why = complete_chain(ss, i)
        if ok and want_trace and (tid != want_trace):
            ok, why = False, "trace id not the caller's"
        if ok:
            gw = [s for s in ss if s.get("kind") == "SERVER" and svc(s) == "gateway"]
            if gw[0].get("parentId") != want_parent:
                ok, why = False, "gateway parent not the caller's span (or not a root)"
        if ok:
            complete += 1
        else:
            problems[why] += 1
    n = len(by_id)
    share = complete / n if n else 0
    print("ids %d complete %d (%.2f%%) false_merges %d traces %d problems %s" %
          (n, complete, 100 * share, merges, len(traces), dict(problems.most_common(6))))
    return merges == 0 and n > 0 and share >= min_complete


def one(ss, pred):
    m = [s for s in ss if pred(s)]
    return m[0] if len(m) == 1 else None


def complete_chain(ss, i):
    path = "/chain/" + i
    gws = one(ss, lambda s: s.get("kind") == "SERVER" and svc(s) == "gateway")
    gwc = one(ss, lambda s: s.get("kind") == "CLIENT" and svc(s) == "gateway")
    a = one(ss, lambda s: s.get("kind") == "SERVER" and svc(s) == "app-a")
    b = one(ss, lambda s: s.get("kind") == "SERVER" and svc(s) == "app-b")
    ab = one(ss, lambda s: s.get("kind") == "CLIENT" and svc(s) == "app-a" and
             s.get("tags", {}).get("http.path") == "/b/" + i)
    rd = one(ss, lambda s: s.get("tags", {}).get("db.system") == "redis")
    pg = one(ss, lambda s: s.get("tags", {}).get("db.system") == "postgresql" and
             s.get("tags", {}).get("db.operation") == "SELECT")
    for name, s in (("gateway server", gws), ("gateway client", gwc), ("a server", a),
                    ("b server", b), ("a->b client", ab), ("redis", rd), ("postgres", pg)):
        if s is None:
            return False, "missing or doubled " + name
    if gws["tags"].get("http.path") != path or a["tags"].get("http.path") != path:
        return False, "wrong path"
    # psycopg2 sends the id as a literal: it must not reach the span.
    if pg["tags"].get("db.statement") != "SELECT ?::text AS id":
        return False, "db.statement %r" % pg["tags"].get("db.statement")
    edges = ((gwc, gws), (a, gwc), (rd, a), (pg, a), (ab, a), (b, ab))
    for child, parent in edges:
        if child.get("parentId") != parent["id"]:
            return False, "wrong parent of %s %s" % (svc(child), child.get("name"))
    return True, ""


def loop(spans, args):
    service = args[0]
    must = args[2] if len(args) > 2 and args[1] == "--must-link" else None
    missed = 0
    servers = {}
    for s in spans:
        if s.get("kind") == "SERVER" and svc(s) == service and ident(s):
            servers[(s["traceId"], s["id"])] = ident(s)
    total = linked = wrong = 0
    for s in spans:
        if s.get("tags", {}).get("db.system") != "redis" or svc(s) != service:
            continue
        total += 1
        p = servers.get((s["traceId"], s.get("parentId")))
        if p is None:
            if must and s["tags"].get("cache", "").startswith(must):
                missed += 1
            continue
        linked += 1
        if s["tags"].get("cache") != p:
            wrong += 1
    print("redis spans %d linked %d (%.1f%%) wrong_parents %d server_spans %d "
          "sequential_unlinked %d" %
          (total, linked, 100 * linked / total if total else 0, wrong, len(servers), missed))
    return total > 0 and wrong == 0 and len(servers) > 0 and missed == 0


def opt(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def deliveries(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def covers(s, partition, offset):
    t = s.get("tags", {})
    if t.get("messaging.destination") != "orders" or "messaging.kafka.offset" not in t:
        return False
    lo = int(t["messaging.kafka.offset"])
    return (int(t["messaging.kafka.partition"]) == partition and
            lo <= offset < lo + int(t["messaging.batch.message_count"]))


def traced_records(spans, dels, kinds):
    """(records with a traceparent, those whose trace holds spans of these
    kinds covering the record, CONSUMER spans in a record's trace that do not
    cover it)"""
    by_trace = collections.defaultdict(list)
    for s in spans:
        by_trace[s["traceId"]].append(s)
    n = ok = wrong = 0
    for d in dels:
        if not d["traceparent"]:
            continue
        n += 1
        tid = d["traceparent"].split("-")[1]
        mine = by_trace.get(tid, [])
        found = set()
        for s in mine:
            k = s.get("kind")
            if k == "SERVER" and s["tags"].get("http.path") == "/orders/" + d["id"]:
                found.add(k)
            elif k in ("PRODUCER", "CONSUMER"):
                if covers(s, d["partition"], d["offset"]):
                    found.add(k)
                elif k == "CONSUMER":
                    wrong += 1
        ok += set(kinds) <= found
    return n, ok, wrong


def kafka(spans, args):
    min_linked = float(opt(args, "--min-linked", 0.0))
    prod = {(s["traceId"], s["id"]): s for s in spans if s.get("kind") == "PRODUCER"}
    cons = [s for s in spans if s.get("kind") == "CONSUMER"]
    linked = wrong = 0
    for c in cons:
        p = prod.get((c["traceId"], c.get("parentId")))
        if p is None:
            if c.get("parentId"):
                wrong += 1  # a parent that is not a Produce of ours
            continue
        linked += 1
        ct, pt = c["tags"], p["tags"]
        lo = int(pt["messaging.kafka.offset"])
        hi = lo + int(pt["messaging.batch.message_count"])
        off = int(ct.get("messaging.kafka.offset", -1))
        n = int(ct["messaging.batch.message_count"])
        if (ct["messaging.destination"], ct["messaging.kafka.partition"]) != \
                (pt["messaging.destination"], pt["messaging.kafka.partition"]) or \
                not (lo <= off and off + n <= hi):
            wrong += 1
    share = linked / len(cons) if cons else 0
    print("producer spans %d consumer spans %d linked %d (%.1f%%) wrong %d" %
          (len(prod), len(cons), linked, 100 * share, wrong), end="")
    good = len(cons) > 0 and wrong == 0 and share >= min_linked
    if "--deliveries" in args:
        n, ok, bad = traced_records(spans, deliveries(opt(args, "--deliveries", "")),
                                    ("SERVER", "PRODUCER", "CONSUMER"))
        print("; records with a traceparent %d, in one trace with the request's SERVER, "
              "PRODUCER and CONSUMER spans %d (%.1f%%), consumers in a wrong trace %d" %
              (n, ok, 100 * ok / n if n else 0, bad), end="")
        good = good and n > 0 and bad == 0 and ok >= float(opt(args, "--min-traced", 1)) * n
    print()
    return good


def kafka_headers(spans, args):
    dels = deliveries(args[0])
    n, ok, bad = traced_records(spans, dels, ("CONSUMER",))
    parents = {d["traceparent"].split("-")[1]: d["traceparent"].split("-")[2]
               for d in dels if d["traceparent"]}
    cons = [s for s in spans if s.get("kind") == "CONSUMER"]
    orphan = sum(1 for s in cons if s["traceId"] in parents and
                 s.get("parentId") != parents[s["traceId"]])
    print("records with a traceparent %d, whose CONSUMER span continues it %d (%.1f%%); "
          "consumer spans %d, in a wrong trace %d, with a wrong parent %d" %
          (n, ok, 100 * ok / n if n else 0, len(cons), bad, orphan))
    return n > 0 and bad == 0 and orphan == 0 and ok >= float(opt(args, "--min-traced", 1)) * n


def main():
    spans = load(sys.argv[2])
    mode = {"chain": chain, "loop": loop, "kafka": kafka,
            "kafka-headers": kafka_headers}[sys.argv[1]]
    ok = mode(spans, sys.argv[3:])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
