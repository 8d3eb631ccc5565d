#!/bin/bash
# The operations files around sonde: deploy/prometheus/sonde.yml (scrape
# config) and alerts.yml pass promtool's check config, check rules and the
# unit tests of alerts_test.yml, where every alert both fires and does not;
# every PromQL expression of the Grafana dashboard and the alerts (listed by
# deploy/grafana/exprs.py) parses with promtool's own parser and names only
# metrics docs/metrics.md documents (or the business counters, or `up`); the
# dashboard has the seed's panels, a Prometheus datasource variable and
# exemplars on its latency panels, linked to Zipkin by the provisioned data
# sources; deploy/compose.yaml validates against the Compose Specification's
# JSON schema (ajv, the schema as npm's dclint ships it) and wires sonde,
# Prometheus, Grafana, Loki and Zipkin to the same addresses as the other
# files; deploy/loki/loki.yml is a single-binary, filesystem Loki on the port
# sonde pushes to. Then live: sonde runs with the compose file's own
# configuration, a real Prometheus runs sonde.yml with its rules against it,
# every expression of exprs.py is a query it answers without error, and the
# exemplars it stores carry the trace id label the Grafana data source links
# to Zipkin.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$SONDE_ROOT
D=$ROOT/deploy
need_node_modules dclint
EXPRS=$D/grafana/exprs.py

# report FILE: a line "ok   DESC" passes, "BAD  DESC" fails; anything else
# (a traceback) fails once with the file's tail.
report() {
	local line seen=0
	while IFS= read -r line; do
		case $line in
		"ok   "*) pass "${line#ok   }"; seen=1 ;;
		"BAD  "*) fail "${line#BAD  }"; seen=1 ;;
		esac
	done <"$1"
	grep -qv -e '^ok   ' -e '^BAD  ' "$1" && fail "checker output: $(grep -v -e '^ok   ' -e '^BAD  ' "$1" | tail -5)"
	[ $seen = 1 ] || fail "no check ran ($1)"
}

step "deploy/prometheus: promtool check config, check rules, test rules"
promtool check config "$D/prometheus/sonde.yml" >"$LIB_TMP/config.out" 2>&1 &&
	pass "promtool check config sonde.yml (and the rule files it loads)" ||
	fail "promtool check config: $(cat "$LIB_TMP/config.out")"
promtool check rules "$D/prometheus/alerts.yml" >"$LIB_TMP/rules.out" 2>&1 &&
	pass "promtool check rules alerts.yml: $(grep -o '[0-9]* rules found' "$LIB_TMP/rules.out")" ||
	fail "promtool check rules: $(cat "$LIB_TMP/rules.out")"
(cd "$D/prometheus" && promtool test rules alerts_test.yml) >"$LIB_TMP/test.out" 2>&1 &&
	pass "promtool test rules alerts_test.yml" ||
	fail "promtool test rules: $(head -40 "$LIB_TMP/test.out")"

step "every alert: in sonde.yml's rules, fired and not fired by the unit tests, as the issue lists them"
"$PYTHON" - "$D" >"$LIB_TMP/alerts.check" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/grafana")
from exprs import load_yaml
d = sys.argv[1] + "/prometheus/"
conf = load_yaml(d + "sonde.yml")
rules = load_yaml(d + "alerts.yml")
tests = load_yaml(d + "alerts_test.yml")
alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
fires, quiet = set(), set()
for t in tests["tests"]:
    for c in t.get("alert_rule_test", []):
        (fires if c.get("exp_alerts") else quiet).add(c["alertname"])
def check(ok, desc):
    print(("ok   " if ok else "BAD  ") + desc)
job = conf["scrape_configs"][0]
check(job["job_name"] == "sagaline-backend", "scrape job named as the seed's: %s" % job["job_name"])
labels = job["static_configs"][0].get("labels", {})
check(labels == {"application": "sagaline", "environment": "dev"},
      "target labels application, environment as the seed's Spring service: %s" % labels)
check(conf.get("rule_files") == ["alerts.yml", "seed_rules.yml"], "sonde.yml loads alerts.yml and seed_rules.yml")
check(tests.get("rule_files") == ["alerts.yml"], "alerts_test.yml tests alerts.yml")
for a in sorted(alerts):
    check(a in fires and a in quiet, "%s: a case where it fires (%s) and one where it does not (%s)"
          % (a, a in fires, a in quiet))
    r = alerts[a]
    check(r.get("labels", {}).get("severity") in ("critical", "warning", "info")
          and r.get("annotations", {}).get("summary") and r.get("for"),
          "%s: severity, summary and for:" % a)
# What the issue asks the alerts to watch, by the metric each reads.
want = {"error rate": 'status=~"5.."', "p99 latency": "histogram_quantile(0.99",
        "cache hit ratio": 'cache_gets_total{result="hit"}', "Kafka consumer lag": "kafka_consumer_records_lag",
        "rate-limit rejections": 'rate_limit_requests_total{result="limited"}',
        "events lost": "sonde_events_lost_total", "spans dropped": "sonde_spans_dropped_total"}
for what, needle in want.items():
    check(any(needle in r["expr"] for r in alerts.values()), "an alert on %s (%s)" % (what, needle))
PY
report "$LIB_TMP/alerts.check"

step "exprs.py: every PromQL expression of the dashboard and the alerts parses (promtool)"
"$EXPRS" >"$LIB_TMP/exprs.txt" 2>"$LIB_TMP/exprs.err" || fail "exprs.py: $(cat "$LIB_TMP/exprs.err")"
"$EXPRS" --rules >"$LIB_TMP/exprs_rules.yml" 2>>"$LIB_TMP/exprs.err" || fail "exprs.py --rules: $(cat "$LIB_TMP/exprs.err")"
n=$(grep -c . "$LIB_TMP/exprs.txt")
assert_gt "expressions listed (dashboard targets + alert rules)" 20 "$n"
if promtool check rules "$LIB_TMP/exprs_rules.yml" >"$LIB_TMP/exprs_rules.out" 2>&1; then
	assert_eq "expressions promtool parsed (each as a recording rule)" "$n" \
		"$(sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' "$LIB_TMP/exprs_rules.out")"
else
	fail "promtool could not parse them: $(head -20 "$LIB_TMP/exprs_rules.out")"
fi
assert_eq "no Grafana variable left in them" 0 "$(grep -c '\$' "$LIB_TMP/exprs.txt")"

step "every metric the dashboard and the alerts read is documented"
"$EXPRS" --metrics >"$LIB_TMP/metrics.used" 2>>"$LIB_TMP/exprs.err" || fail "exprs.py --metrics: $(cat "$LIB_TMP/exprs.err")"
"$PYTHON" - "$ROOT/docs/metrics.md" "$LIB_TMP/metrics.used" >"$LIB_TMP/metrics.check" 2>&1 <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
known = set()
for name, kind in re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \| (\w+) \|", doc, re.M):
    known.add(name)
    if kind == "histogram":
        known |= {name + "_bucket", name + "_count", name + "_sum"}
business = {"user_registrations_total", "orders_created_total", "orders_confirmed_total",
            "orders_cancelled_total", "payments_success_total", "payments_failed_total", "revenue_total"}
standard = {"up"}
used = [l.split("\t") for l in open(sys.argv[2]).read().splitlines() if l]
print(("ok   " if len(known) > 40 else "BAD  ") + "%d metric names read from docs/metrics.md" % len(known))
print(("ok   " if len(used) >= 20 else "BAD  ") + "%d metric names used" % len(used))
for name, where in used:
    src = "docs/metrics.md" if name in known else "business" if name in business else \
          "Prometheus" if name in standard else None
    print(("ok   " if src else "BAD  ") + "%s (%s): %s" % (name, where, src or "UNDOCUMENTED"))
PY
report "$LIB_TMP/metrics.check"

step "deploy/grafana/sonde-dashboard.json: the seed's panels, a datasource variable, exemplars"
"$PYTHON" - "$D/grafana/sonde-dashboard.json" >"$LIB_TMP/dash.check" 2>&1 <<'PY'
import json, sys
def check(ok, desc):
    print(("ok   " if ok else "BAD  ") + desc)
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    check(False, "valid JSON: %s" % e)
    sys.exit()
check(True, "valid JSON")
check(isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 36,
      "schemaVersion of a current Grafana: %s" % d.get("schemaVersion"))
check(bool(d.get("uid")) and bool(d.get("title")), "uid and title: %s" % d.get("uid"))
panels = []
def walk(ps):
    for p in ps:
        panels.append(p)
        walk(p.get("panels", []))
walk(d["panels"])
graphs = [p for p in panels if p["type"] != "row"]
check(len(graphs) >= 8, "%d panels (>= 8)" % len(graphs))
ids = [p["id"] for p in panels]
check(len(ids) == len(set(ids)), "panel ids unique")
check(all(0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels),
      "every panel within the 24-column grid")
var = [v for v in d["templating"]["list"] if v["type"] == "datasource"]
check(len(var) == 1 and var[0]["query"] == "prometheus", "a Prometheus datasource variable")
dsref = "${%s}" % var[0]["name"] if var else None
targets = [(p, t) for p in graphs for t in p.get("targets", [])]
check(all(t.get("expr") for p, t in targets) and all(p.get("targets") for p in graphs),
      "every panel has PromQL targets")
check(all(t.get("datasource", {}).get("uid") == dsref and p["datasource"]["uid"] == dsref for p, t in targets),
      "every panel and target queries the variable's datasource (%s)" % dsref)
for v in d["templating"]["list"]:
    if v["type"] == "query":
        check(v.get("datasource", {}).get("uid") == dsref, "variable $%s from %s" % (v["name"], dsref))
lat = [(p, t) for p, t in targets if "histogram_quantile" in t["expr"]]
check(len(lat) >= 3, "%d latency (histogram_quantile) targets" % len(lat))
for p, t in lat:
    check(t.get("exemplar") is True, "exemplars on %r %s" % (p["title"], t["refId"]))
allexpr = "\n".join(t["expr"] for p, t in targets)
seed = {
    "system overview: rps": "rate(http_server_requests_seconds_count",
    "system overview: error rate": 'status=~"5.."',
    "system overview: p99": "histogram_quantile(0.99, sum by (service, le) (rate(http_server_requests_seconds_bucket",
    "database: query duration": "database_query_duration_seconds_bucket",
    "database: connections": "db_connections",
    "cache: hit ratio per region": 'sum by (cache) (rate(cache_gets_total{job=~"$job",service=~"$service",result="hit"}',
    "cache: hit/miss rate": "sum by (cache, result) (rate(cache_gets_total",
    "kafka: consumer lag": "kafka_consumer_records_lag_max",
    "kafka: messages per second": "rate(kafka_producer_record_send_total",
    "rate limiting": "rate_limit_requests_total",
    "sonde: events lost": "sonde_events_lost_total",
    "sonde: spans dropped": "sonde_spans_dropped_total",
    "sonde: up": "up{",
}
for n in ("user_registrations_total", "orders_created_total", "orders_confirmed_total",
          "orders_cancelled_total", "payments_success_total", "payments_failed_total", "revenue_total"):
    seed["business: " + n] = n + "{"
for what, needle in seed.items():
    check(needle in allexpr, "%s (%s)" % (what, needle))
check("rate(user_registrations_total" in allexpr and "[1h])) * 3600" in allexpr,
      "business counters per hour, as the seed's panel")
PY
report "$LIB_TMP/dash.check"

step "deploy/grafana/provisioning: Prometheus (exemplars -> Zipkin), Loki, Zipkin; the dashboard"
"$PYTHON" - "$D" >"$LIB_TMP/prov.check" 2>&1 <<'PY'
import json, re, sys
sys.path.insert(0, sys.argv[1] + "/grafana")
from exprs import load_yaml
D = sys.argv[1]
def check(ok, desc):
    print(("ok   " if ok else "BAD  ") + desc)
ds = load_yaml(D + "/grafana/provisioning/datasources/sonde.yml")
check(ds.get("apiVersion") == 1, "datasources: apiVersion 1")
by = {x["type"]: x for x in ds["datasources"]}
check(set(by) == {"prometheus", "loki", "zipkin"}, "data sources: %s" % sorted(by))
prom, loki, zipkin = by.get("prometheus", {}), by.get("loki", {}), by.get("zipkin", {})
check(prom.get("isDefault") is True, "Prometheus is the default")
ex = prom.get("jsonData", {}).get("exemplarTraceIdDestinations", [])
check(len(ex) == 1 and ex[0].get("name") == "trace_id" and ex[0].get("datasourceUid") == zipkin.get("uid"),
      "Prometheus exemplars' trace_id -> the Zipkin data source (%s)" % ex)
df = loki.get("jsonData", {}).get("derivedFields", [])
line = [l for l in open(D + "/../docs/logs.md") if l.startswith('{"@timestamp"') and '"trace.id"' in l][0]
tid = json.loads(line)["trace.id"]
ok = False
for f in df:
    m = re.search(f["matcherRegex"], line)
    ok = ok or (m is not None and m.group(1) == tid and f.get("datasourceUid") == zipkin.get("uid")
                and f.get("url") == "$${__value.raw}")
check(ok, "Loki: a derived field takes trace.id out of a docs/logs.md line (%s) to Zipkin" % tid)
t2l = zipkin.get("jsonData", {}).get("tracesToLogsV2", {})
check(t2l.get("datasourceUid") == loki.get("uid") and "trace_id" in t2l.get("query", ""),
      "Zipkin: spans link to their log lines in Loki")
dash = load_yaml(D + "/grafana/provisioning/dashboards/sonde.yml")
prov = dash["providers"]
check(len(prov) == 1 and prov[0]["type"] == "file" and prov[0]["options"]["path"],
      "a file provider for the dashboard: %s" % prov[0]["options"]["path"])
PY
report "$LIB_TMP/prov.check"

step "deploy/compose.yaml: valid against the Compose Specification's JSON schema (ajv)"
node "$LIB_DIR/node/compose_validate.mjs" "$D/compose.yaml" >"$LIB_TMP/compose.out" 2>&1 &&
	pass "$(grep ': valid' "$LIB_TMP/compose.out" | sed "s|$ROOT/||") ($(tail -1 "$LIB_TMP/compose.out" |
		"$PYTHON" -c 'import json,sys; s=json.load(sys.stdin)["schema"]; print(s["package"], s["file"], s["title"])'))" ||
	fail "$(grep -v '^{' "$LIB_TMP/compose.out" | head -5)"
# The validator rejects what the schema forbids (a key no service has, a
# wrong type): it is checking, not passing everything.
"$PYTHON" - "$D/compose.yaml" >"$LIB_TMP/bad-compose.yaml" <<'PY'
import sys
t = open(sys.argv[1]).read()
assert "    pid: host\n" in t
print(t.replace("    pid: host\n", "    pid: host\n    host_pid: true\n    privileged_mode: [1]\n", 1), end="")
PY
node "$LIB_DIR/node/compose_validate.mjs" "$LIB_TMP/bad-compose.yaml" >"$LIB_TMP/bad-compose.out" 2>&1
assert_eq "a copy with an unknown service key: rejected" 1 "$(grep -c 'INVALID.*host_pid' "$LIB_TMP/bad-compose.out")"

step "deploy/compose.yaml, loki.yml, sonde.yml and the data sources name the same addresses"
tail -1 "$LIB_TMP/compose.out" >"$LIB_TMP/compose.json"
"$PYTHON" - "$D" "$LIB_TMP/compose.json" >"$LIB_TMP/wiring.check" 2>&1 <<'PY'
import json, os, sys
from urllib.parse import urlparse
sys.path.insert(0, sys.argv[1] + "/grafana")
from exprs import load_yaml
D = sys.argv[1]
def check(ok, desc):
    print(("ok   " if ok else "BAD  ") + desc)
c = list(json.load(open(sys.argv[2]))["files"].values())[0]
s = c["services"]
check({"sonde", "prometheus", "grafana", "loki", "zipkin"} <= set(s), "services: %s" % sorted(s))
so = s["sonde"]
check(so.get("network_mode") == "host" and so.get("pid") == "host" and so.get("privileged") is True,
      "sonde: host network, host PID namespace, privileged")
check(os.path.join(so["build"]["context"], so["build"]["dockerfile"]) == "../deploy/kubernetes/Containerfile"
      and os.path.isfile(os.path.join(D, so["build"]["context"], so["build"]["dockerfile"])),
      "sonde: built from deploy/kubernetes/Containerfile")
binds = {v["target"]: v for v in so.get("volumes", []) if isinstance(v, dict)}
need = ["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf", "/sys/fs/cgroup"]
check(all(binds.get(t, {}).get("source") == t for t in need), "sonde: mounts %s as docs/kubernetes.md" % need)
check(binds["/sys/kernel/btf"].get("read_only") and binds["/sys/fs/cgroup"].get("read_only"),
      "sonde: btf and cgroup read-only")
cmd = so["command"]
arg = lambda flag, lst=cmd: lst[lst.index(flag) + 1] if flag in lst else None
check(cmd[0] == "--all" and arg("--config") == "/etc/sonde/sonde.yaml"
      and any(x.get("source") == "sonde" and x.get("target") == "/etc/sonde/sonde.yaml" for x in so.get("configs", []))
      and "content" in c.get("configs", {}).get("sonde", {}),
      "sonde: --all with its configuration mounted at /etc/sonde/sonde.yaml")
# Bind mounts of the repository's files: they exist.
for name, svc in s.items():
    for v in svc.get("volumes", []):
        if isinstance(v, str) and v.startswith("./"):
            check(os.path.exists(os.path.join(D, v.split(":")[0])), "%s mounts %s" % (name, v.split(":")[0]))
prom = s["prometheus"]["command"]
pflag = lambda f: [x.split("=", 1)[1] for x in prom if x.startswith(f + "=")]
check("exemplar-storage" in pflag("--enable-feature"), "Prometheus: --enable-feature=exemplar-storage")
check(pflag("--config.file") == ["/etc/prometheus/sonde.yml"]
      and "./prometheus/sonde.yml:/etc/prometheus/sonde.yml:ro" in s["prometheus"]["volumes"]
      and "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in s["prometheus"]["volumes"],
      "Prometheus: runs sonde.yml, with alerts.yml beside it")
prom_addr = pflag("--web.listen-address")[0]
scrape = load_yaml(D + "/prometheus/sonde.yml")["scrape_configs"][0]["static_configs"][0]["targets"]
check(scrape == [arg("--listen")], "Prometheus scrapes where sonde listens: %s, %s" % (scrape, arg("--listen")))
loki = load_yaml(D + "/loki/loki.yml")
lokiurl = urlparse(arg("--loki-url"))
check(lokiurl.path == "/loki/api/v1/push" and lokiurl.port == loki["server"]["http_listen_port"]
      and lokiurl.hostname == loki["server"]["http_listen_address"],
      "sonde pushes to Loki's address: %s" % arg("--loki-url"))
check(s["loki"]["command"] == ["-config.file=/etc/loki/sonde.yml"]
      and "./loki/loki.yml:/etc/loki/sonde.yml:ro" in s["loki"]["volumes"], "Loki: runs deploy/loki/loki.yml")
zurl = urlparse(arg("--zipkin-url"))
check(zurl.path == "/api/v2/spans" and "%s:%d:9411" % (zurl.hostname, zurl.port) in s["zipkin"]["ports"],
      "sonde exports to Zipkin's published port: %s" % arg("--zipkin-url"))
ds = {x["type"]: urlparse(x["url"]) for x in load_yaml(D + "/grafana/provisioning/datasources/sonde.yml")["datasources"]}
check(ds["prometheus"].netloc == prom_addr, "Grafana -> Prometheus at %s" % prom_addr)
check(ds["loki"].port == lokiurl.port and ds["loki"].hostname == lokiurl.hostname, "Grafana -> Loki")
check(ds["zipkin"].port == zurl.port and ds["zipkin"].hostname == zurl.hostname, "Grafana -> Zipkin")
gv = s["grafana"]["volumes"]
path = load_yaml(D + "/grafana/provisioning/dashboards/sonde.yml")["providers"][0]["options"]["path"]
check("./grafana/sonde-dashboard.json:%s/sonde-dashboard.json:ro" % path in gv
      and "./grafana/provisioning/datasources:/etc/grafana/provisioning/datasources:ro" in gv
      and "./grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro" in gv,
      "Grafana: the provisioning files, and the dashboard where the provider reads (%s)" % path)
# Loki: one process, filesystem storage.
check(loki.get("auth_enabled") is False, "Loki: no tenants (auth_enabled: false)")
check(loki["common"]["replication_factor"] == 1 and loki["common"]["ring"]["kvstore"]["store"] == "inmemory",
      "Loki: single binary (replication 1, in-memory ring)")
fs = loki["common"]["storage"].get("filesystem", {})
sc = loki["schema_config"]["configs"]
check(fs.get("chunks_directory") and all(x["object_store"] == "filesystem" and x["store"] == "tsdb" for x in sc),
      "Loki: chunks and tsdb index on the filesystem")
images = {n: v.get("image", "") for n, v in s.items() if n != "sonde"}
check(all(":" in i and not i.endswith(":latest") for i in images.values()), "images pinned: %s" % sorted(images.values()))
PY
report "$LIB_TMP/wiring.check"
# sonde's configuration as compose.yaml gives it (configs.sonde.content).
"$PYTHON" -c '
import json, sys
c = list(json.load(open(sys.argv[1]))["files"].values())[0]
open(sys.argv[2], "w").write(c["configs"]["sonde"]["content"])' "$LIB_TMP/compose.json" "$LIB_TMP/compose-sonde.yaml"

step "live: sonde with the compose file's configuration; Prometheus with sonde.yml and its rules"
start_sonde --all --config "$LIB_TMP/compose-sonde.yaml" --environment dev
pass "sonde --all --config (compose.yaml's configs.sonde) ready"
dir=$LIB_TMP/prom-ops
mkdir -p "$dir/data"
cp "$D/prometheus/alerts.yml" "$dir/alerts.yml"
# Only the target's port and the intervals change; the job, its labels and the
# rules are the file's own.
"$PYTHON" - "$D/prometheus/sonde.yml" "$SONDE_PORT" >"$dir/sonde.yml" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
assert '"127.0.0.1:9464"' in t
t = t.replace('"127.0.0.1:9464"', '"127.0.0.1:%s"' % sys.argv[2])
t = re.sub(r"(scrape_interval|scrape_timeout|evaluation_interval): \S+", r"\1: 1s", t)
print(t, end="")
PY
PROM_PORT=$(free_port)
prometheus --config.file="$dir/sonde.yml" --storage.tsdb.path="$dir/data" --enable-feature=exemplar-storage \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$dir/prometheus.log" 2>&1 &
track_pid prometheus $!
wait_until 30 lib_http_ok "http://127.0.0.1:$PROM_PORT/-/ready" || die "prometheus not ready: $(cat "$dir/prometheus.log")"
scraped() { [ "$(prom_query 'up{job="sagaline-backend",application="sagaline",environment="dev"}')" = 1 ]; }
assert_true "sonde scraped as job sagaline-backend, labelled application=sagaline environment=dev" wait_until 20 scraped
rules_ok() {
	curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules" | "$PYTHON" -c '
import json, sys
r = [x for g in json.load(sys.stdin)["data"]["groups"] for x in g["rules"]]
sys.exit(0 if len(r) == int(sys.argv[1]) and all(x["type"] == "alerting" and x["health"] == "ok" for x in r) else 1)' \
		"$(grep -c -- '- alert:' "$D/prometheus/alerts.yml")"
}
assert_true "every alert rule loaded and evaluated (health ok)" wait_until 20 rules_ok
"$PYTHON" - "$PROM_PORT" "$LIB_TMP/exprs.txt" >"$LIB_TMP/live.out" 2>&1 <<'PY'
import json, sys, urllib.parse, urllib.request
for e in open(sys.argv[2]).read().splitlines():
    url = "http://127.0.0.1:%s/api/v1/query?" % sys.argv[1] + urllib.parse.urlencode({"query": e})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            status = json.load(r)["status"]
    except Exception as x:  # an HTTP 400 carries the parse error
        status = "error: %s %s" % (x, getattr(x, "read", lambda: b"")()[:300])
    if status != "success":
        print("query failed: %s: %s" % (e, status))
PY
grep . "$LIB_TMP/live.out" | head -5 | sed 's/^/  /'
bad=$(grep -c . "$LIB_TMP/live.out")
assert_eq "exprs.py's expressions the live Prometheus could not run (of $n)" 0 "$bad"

step "live: the latency panels' exemplars carry the label Grafana's Zipkin link reads"
start_nginx "$LIB_DIR/nginx.conf.in"
for ((i = 0; i < 20; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 2 200 >/dev/null
label=$("$PYTHON" -c '
import sys
sys.path.insert(0, sys.argv[1] + "/grafana")
from exprs import load_yaml
ds = load_yaml(sys.argv[1] + "/grafana/provisioning/datasources/sonde.yml")["datasources"]
print([d for d in ds if d["type"] == "prometheus"][0]["jsonData"]["exemplarTraceIdDestinations"][0]["name"])' "$D")
exemplar_ids() {
	local now
	now=$(date +%s)
	curl -s --max-time 5 -G \
		--data-urlencode 'query=http_server_requests_seconds_bucket{job="sagaline-backend",service="nginx"}' \
		--data-urlencode "start=$((now - 120))" --data-urlencode "end=$((now + 5))" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query_exemplars" | "$PYTHON" -c '
import json, re, sys
d = json.load(sys.stdin)["data"]
ids = {e["labels"].get(sys.argv[1], "") for r in d for e in r["exemplars"]}
print(len([i for i in ids if re.fullmatch("[0-9a-f]{32}", i)]))' "$label"
}
has_exemplars() { [ "$(exemplar_ids)" -gt 0 ] 2>/dev/null; }
wait_until 15 has_exemplars
assert_gt "exemplars of nginx's requests with a 32-hex-digit $label, stored by Prometheus" 0 "$(exemplar_ids)"
stop_sonde

finish
