#!/usr/bin/python3
"""Check sonde's JSON log lines (test_logs.sh, test_traces.sh).

  check_logs.py lines FILE...
      Every line parses as a JSON object (Python's json) with the fields
      docs/logs.md promises; prints the count and a per-level tally as JSON.
  check_logs.py spans ZIPKIN_DIR FILE... [--min F]
      The access line of every SERVER span exported: same trace.id and span.id,
      url.path = the span's http.path; at least F (default 0.99) of them found,
      and no line with the ids of a span of another path (0 wrong).
"""
import collections
import glob
import json
import sys

NEED = ("@timestamp", "log.level", "log.logger", "message", "service.name", "process.pid")


def read_lines(files):
    out, bad = [], 0
    for f in files:
        with open(f, "rb") as fh:
            for raw in fh:
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    bad += 1
                    continue
                if not isinstance(obj, dict) or any(k not in obj for k in NEED):
                    bad += 1
                    continue
                out.append(obj)
    return out, bad


def lines(args):
    objs, bad = read_lines(args)
    levels = collections.Counter(o["log.level"] for o in objs)
    loggers = collections.Counter(o["log.logger"] for o in objs)
    print(json.dumps({"lines": len(objs), "bad": bad, "levels": levels, "loggers": loggers}))
    return bad == 0


def spans(args):
    zdir, files, min_share = args[0], [], 0.99
    i = 1
    while i < len(args):
        if args[i] == "--min":
            min_share = float(args[i + 1])
            i += 2
        else:
            files.append(args[i])
            i += 1
    servers = {}
    for f in glob.glob(zdir + "/*.json"):
        with open(f) as fh:
            for s in json.load(fh):
                if s.get("kind") == "SERVER":
                    servers[(s["traceId"], s["id"])] = s["tags"].get("http.path")
    objs, bad = read_lines(files)
    access = {}
    wrong = 0
    for o in objs:
        if o["log.logger"] != "sonde.http" or "trace.id" not in o:
            continue
        k = (o["trace.id"], o["span.id"])
        if k in servers:
            if servers[k] != o.get("url.path"):
                wrong += 1
            access[k] = True
    found = sum(1 for k in servers if k in access)
    share = found / len(servers) if servers else 0
    print("server spans %d with their access line %d (%.2f%%), wrong %d, unparsable lines %d" %
          (len(servers), found, 100 * share, wrong, bad))
    return servers and share >= min_share and wrong == 0 and bad == 0


if __name__ == "__main__":
    mode = {"lines": lines, "spans": spans}[sys.argv[1]]
    sys.exit(0 if mode(sys.argv[2:]) else 1)
