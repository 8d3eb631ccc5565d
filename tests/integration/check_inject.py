#!/usr/bin/python3
"""check_inject.py B_LOG SONDE_URL SERVICE [GATEWAY]: what B received against
the spans sonde built (test_inject.sh). Prints one "name value" line per
count; the test compares them. Requests to /big/ (heads of over 1 KiB or
4 KiB) that carry no traceparent are counted as big_plain, not missing
(a head over 4 KiB is sent unchanged); those that carry one are checked as
any other.

For every request B saw: its body arrived whole (length and sha256 as the
caller computed them); a request that had its own traceparent (tp=1) kept it,
once and unchanged; every other carries exactly one traceparent whose trace
id is that of SERVICE's SERVER span and whose parent id is SERVICE's CLIENT
span (the child of that SERVER span) in sonde's /api/traces/{id}. With
GATEWAY, how many of SERVICE's SERVER spans are children of a GATEWAY CLIENT
span, and how many of those joins are wrong (another request's: ids differ).
"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

OWN_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def main():
    log, url, service = sys.argv[1], sys.argv[2], sys.argv[3]
    gateway = sys.argv[4] if len(sys.argv) > 4 else None
    recs = [json.loads(l) for l in open(log) if l.strip()]
    c = dict.fromkeys(["requests", "corrupted", "own_kept", "own_bad", "injected",
                       "missing", "duplicated", "joined", "wrong", "not_found",
                       "gw_joined", "gw_wrong", "unfinished"], 0)
    c["requests"] = len(recs)
    todo = []
    for r in recs:
        if not r["ok"]:
            c["corrupted"] += 1
        tps = r["traceparent"]
        if r["path"].startswith(("/split/", "/pipe/", "/after/")):
            c["raw"] = c.get("raw", 0) + 1
            c["duplicated"] += len(tps) > 1
            if r["path"].startswith("/after/") and len(tps) == 1:
                c["after_injected"] = c.get("after_injected", 0) + 1
            continue
        if r["path"].startswith("/big/") and not tps:
            c["big_plain"] = c.get("big_plain", 0) + 1
            continue
        own = OWN_TP in tps
        if own:
            if tps == [OWN_TP]:
                c["own_kept"] += 1
            else:
                c["own_bad"] += 1
            continue
        if not tps:
            c["missing"] += 1
            continue
        if len(tps) > 1:
            c["duplicated"] += 1
            continue
        c["injected"] += 1
        todo.append((r["path"], tps[0]))

    def fetch(item):
        path, tp = item
        parts = tp.split("-")
        try:
            with urllib.request.urlopen("%s/api/traces/%s" % (url, parts[1]), timeout=10) as f:
                return path, parts, json.load(f)
        except Exception:
            return path, parts, None

    with ThreadPoolExecutor(8) as ex:
        for path, parts, spans in ex.map(fetch, todo):
            if spans is None:
                c["not_found"] += 1
                continue
            by_id = {s["id"]: s for s in spans}
            rid = path.rsplit("/", 1)[-1]
            cl = by_id.get(parts[2])
            sv = by_id.get(cl.get("parentId")) if cl else None
            ok = (cl and cl.get("kind") == "CLIENT" and cl["localEndpoint"]["serviceName"] == service
                  and cl.get("tags", {}).get("http.path", "").endswith("/" + rid)
                  and sv and sv.get("kind") == "SERVER"
                  and sv["localEndpoint"]["serviceName"] == service
                  and sv.get("tags", {}).get("http.path", "").endswith("/" + rid))
            if cl and cl.get("kind") == "CLIENT" and cl.get("parentId") and not sv and \
                    not any(x.get("kind") == "SERVER" for x in spans):
                # A's request whose client left before the answer (wrk's end):
                # no SERVER span was made.
                c["unfinished"] = c.get("unfinished", 0) + 1
                continue
            if not ok:
                c["wrong"] += 1
                if c["wrong"] <= 5:
                    sys.stderr.write("wrong: B %s %s; client %s; server %s\n" % (
                        path, "-".join(parts), json.dumps(cl), json.dumps(sv)))
                continue
            c["joined"] += 1
            if gateway and sv.get("parentId"):
                gc = by_id.get(sv["parentId"])
                gs = by_id.get(gc.get("parentId")) if gc else None
                if (gc and gc.get("kind") == "CLIENT" and gc["localEndpoint"]["serviceName"] == gateway
                        and gc.get("tags", {}).get("http.path", "").startswith(
                            sv.get("tags", {}).get("http.path", "?"))
                        and gs and gs.get("kind") == "SERVER"
                        and gs.get("tags", {}).get("http.path", "").rsplit("/", 1)[-1] == rid):
                    c["gw_joined"] += 1
                elif (gc and gc.get("kind") == "CLIENT" and not gs and not any(
                        x.get("kind") == "SERVER" and x["localEndpoint"]["serviceName"] == gateway
                        for x in spans) and gc.get("tags", {}).get("http.path", "").startswith(
                            sv.get("tags", {}).get("http.path", "?"))):
                    # the gateway's client left before the answer (wrk's end): no SERVER span
                    c["gw_unfinished"] = c.get("gw_unfinished", 0) + 1
                else:
                    c["gw_wrong"] += 1
                    if c["gw_wrong"] <= 3:
                        sys.stderr.write("gateway: A server %s; gateway client %s; gateway server %s\n"
                                         % (json.dumps(sv), json.dumps(gc), json.dumps(gs)))
    for k, v in c.items():
        print(k, v)


if __name__ == "__main__":
    main()
