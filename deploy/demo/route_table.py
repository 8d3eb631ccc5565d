"""Print per-route tables from a sonde /metrics scrape (used by `make demo`).

usage: /usr/bin/python3 route_table.py METRICS_FILE

Quantiles are computed from the cumulative histogram buckets the way
Prometheus' histogram_quantile() does: find the bucket holding the rank, then
interpolate linearly between its lower and upper bound; a rank in the +Inf
bucket yields the largest finite bound.
"""
import math
import re
import sys

LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse(path):
    samples = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                continue
            labels = {k: unescape(v) for k, v in LABEL.findall(m.group(2) or "")}
            try:
                value = float(m.group(3))
            except ValueError:
                continue
            samples.append((m.group(1), labels, value))
    return samples


def histograms(samples, family, keys):
    """{key tuple: [(le, cumulative count), ...]} for FAMILY's _bucket samples."""
    out = {}
    for name, labels, value in samples:
        if name != family + "_bucket" or "le" not in labels:
            continue
        key = tuple(labels.get(k, "") for k in keys)
        le = math.inf if labels["le"] in ("+Inf", "Inf") else float(labels["le"])
        out.setdefault(key, {})
        out[key][le] = out[key].get(le, 0) + value  # sum series that share KEY
    return {k: sorted(v.items()) for k, v in out.items()}


def quantile(q, buckets):
    if len(buckets) < 2 or buckets[-1][0] != math.inf:
        return math.nan
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    for i, (le, cum) in enumerate(buckets):
        if cum >= rank:
            break
    if le == math.inf:
        return buckets[-2][0]
    if i == 0 and le <= 0:
        return le
    start, below = (0.0, 0.0) if i == 0 else buckets[i - 1]
    inside = cum - below
    if inside <= 0:
        return le
    return start + (le - start) * (rank - below) / inside


def fmt_latency(s):
    if math.isnan(s):
        return "-"
    if s < 1:
        ms = s * 1000
        return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"
    return f"{s:.2f} s"


def fmt_count(n):
    return f"{int(n):,}"


def table(headers, rows, right):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def main():
    samples = parse(sys.argv[1])

    keys = ("service", "method", "uri", "status")
    hist = histograms(samples, "http_server_requests_seconds", keys)
    services = {k[0] for k in hist}
    rows, total, errors = [], 0, 0
    for key in sorted(hist, key=lambda k: (k[0], k[2], k[1], k[3])):
        service, method, uri, status = key
        b = hist[key]
        n = b[-1][1]
        err = n if status.startswith("5") else 0
        total += n
        errors += err
        row = [method, uri, status, fmt_count(n), fmt_latency(quantile(0.5, b)),
               fmt_latency(quantile(0.99, b)), fmt_count(err) if err else "-"]
        rows.append(([service] if len(services) > 1 else []) + row)
    head = ["METHOD", "URI", "STATUS", "COUNT", "P50", "P99", "ERRORS (5xx)"]
    if len(services) > 1:
        head = ["SERVICE"] + head
    off = 1 if len(services) > 1 else 0
    print(f"Incoming requests (http_server_requests_seconds, service {', '.join(sorted(services)) or '-'}):")
    print()
    if rows:
        table(head, rows, right={off + 3, off + 4, off + 5, off + 6})
        print()
        print(f"{fmt_count(total)} requests, {fmt_count(errors)} with a 5xx status")
    else:
        print("  (no requests recorded)")

    ckeys = ("peer", "method", "uri", "status")
    chist = histograms(samples, "http_client_requests_seconds", ckeys)
    if chist:
        crows = []
        for key in sorted(chist):
            b = chist[key]
            crows.append(list(key) + [fmt_count(b[-1][1]), fmt_latency(quantile(0.5, b)),
                                      fmt_latency(quantile(0.99, b))])
        print()
        print("Outgoing calls (http_client_requests_seconds):")
        print()
        table(["PEER", "METHOD", "URI", "STATUS", "COUNT", "P50", "P99"], crows, right={4, 5, 6})

    one = {name: v for name, labels, v in samples if not labels}
    parts = []
    if "sonde_events_total" in one:
        parts.append(f"{fmt_count(one['sonde_events_total'])} events")
    if "sonde_events_lost_total" in one:
        parts.append(f"{fmt_count(one['sonde_events_lost_total'])} lost")
    if "process_cpu_seconds_total" in one:
        parts.append(f"{one['process_cpu_seconds_total']:.2f} s CPU")
    if "process_resident_memory_bytes" in one:
        parts.append(f"{one['process_resident_memory_bytes'] / 1048576:.1f} MiB RSS")
    if parts:
        print()
        print("sonde itself: " + ", ".join(parts))


if __name__ == "__main__":
    main()
