#!/usr/bin/python3
"""Every PromQL expression of the Grafana dashboard and of the alert rules.

    deploy/grafana/exprs.py              one expression per line, ready to run
    deploy/grafana/exprs.py --json       [{"source", "name", "ref", "expr"}, ...]
    deploy/grafana/exprs.py --rules      a Prometheus rules file holding each
                                         expression as a recording rule:
                                         `promtool check rules` on it parses them all
    deploy/grafana/exprs.py --metrics    the metric names they use, one per line
    [--dashboard FILE] [--alerts FILE]   default: sonde-dashboard.json beside this
                                         file, ../prometheus/alerts.yml

The dashboard's variables are replaced by what they select when everything is
selected ($job -> .+, $service -> .*) and $__rate_interval by 1m, so that each
line can be sent as it is to a Prometheus (/api/v1/query). Line breaks and runs
of blanks inside an expression are folded into one space. Used by
tests/integration/test_ops_config.sh.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# What Grafana puts in place of the dashboard's variables ("All" selected).
VARIABLES = {
    "job": ".+",
    "service": ".*",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
}


def substitute(expr):
    def one(m):
        name = m.group(1) or m.group(2)
        if name not in VARIABLES:
            raise SystemExit("exprs.py: unknown dashboard variable $%s in %r" % (name, expr))
        return VARIABLES[name]

    expr = re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)
    return " ".join(expr.split())


def load_yaml(path):
    """PyYAML when it is there (Debian's python3-yaml), else js-yaml from the
    integration tests' Node.js modules (build/node)."""
    try:
        import yaml  # noqa: PLC0415

        with open(path) as f:
            return yaml.safe_load(f)
    except ImportError:
        root = os.path.normpath(os.path.join(HERE, "../.."))
        modules = os.environ.get("NODE_MODULES", os.path.join(root, "build/node/node_modules"))
        js = ("const y=require(process.argv[1]+'/js-yaml');"
              "process.stdout.write(JSON.stringify(y.load(require('fs').readFileSync(process.argv[2],'utf8'))))")
        out = subprocess.run(["node", "-e", js, modules, path], check=True,
                             stdout=subprocess.PIPE).stdout
        return json.loads(out)


def dashboard_exprs(path):
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr") and not t.get("hide"):
                    out.append({"source": "dashboard", "name": p.get("title", ""),
                                "ref": t.get("refId", ""), "expr": substitute(t["expr"])})

    walk(dash.get("panels", []))
    return out


def alert_exprs(path):
    out = []
    for g in load_yaml(path).get("groups", []):
        for r in g.get("rules", []):
            out.append({"source": "alerts", "name": r.get("alert") or r.get("record"),
                        "ref": g["name"], "expr": " ".join(r["expr"].split())})
    return out


# PromQL words that are not metric names when they stand alone.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "start", "end", "atan2"}
# Aggregation operators: `sum by (x) (...)` puts a label list between the
# operator and its parenthesis.
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
               "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LABEL_LIST_BEFORE = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN = re.compile(r"""
    (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|s|m|h|d|w|y)?(?:\d+(?:ms|s|m|h|d|w|y))*)
  | (?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@])
  | (?P<ws>\s+)
""", re.X)


def metric_names(expr):
    """Metric names a PromQL expression selects: identifiers that are not
    functions, keywords, label names (inside {...} or a by/on/... list) or
    durations."""
    toks = []
    pos = 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError("cannot tokenize %r at %d" % (expr, pos))
        pos = m.end()
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group()))
    names = []
    i = 0
    depth_brace = depth_bracket = 0
    while i < len(toks):
        kind, text = toks[i]
        if text == "{":
            depth_brace += 1
        elif text == "}":
            depth_brace -= 1
        elif text == "[":
            depth_bracket += 1
        elif text == "]":
            depth_bracket -= 1
        elif kind == "id" and not depth_brace and not depth_bracket:
            nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
            if text in LABEL_LIST_BEFORE:
                if nxt == "(":  # skip the label list
                    j = i + 1
                    while toks[j][1] != ")":
                        j += 1
                    i = j
            elif text in KEYWORDS or nxt == "(" or (text in AGGREGATORS and nxt in ("by", "without")):
                pass  # a keyword, a function or an aggregation
            else:
                names.append(text)
        i += 1
    return names


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `exprs.py | head` ends quietly
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", default=os.path.join(HERE, "sonde-dashboard.json"))
    ap.add_argument("--alerts", default=os.path.join(HERE, "../prometheus/alerts.yml"))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true")
    mode.add_argument("--rules", action="store_true")
    mode.add_argument("--metrics", action="store_true")
    a = ap.parse_args()

    exprs = dashboard_exprs(a.dashboard) + alert_exprs(a.alerts)
    if a.json:
        json.dump(exprs, sys.stdout, indent=1, ensure_ascii=False)
        print()
    elif a.rules:
        # JSON is YAML: promtool reads it as a rules file.
        rules = [{"record": "exprs_check:%s_%d" % (e["source"], i), "expr": e["expr"]}
                 for i, e in enumerate(exprs)]
        json.dump({"groups": [{"name": "exprs", "rules": rules}]}, sys.stdout, indent=1,
                  ensure_ascii=False)
        print()
    elif a.metrics:
        seen = {}
        for e in exprs:
            for n in metric_names(e["expr"]):
                seen.setdefault(n, "%s: %s" % (e["source"], e["name"]))
        for n in sorted(seen):
            print("%s\t%s" % (n, seen[n]))
    else:
        for e in exprs:
            print(e["expr"])


if __name__ == "__main__":
    main()
