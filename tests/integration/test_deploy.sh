#!/bin/bash
# deploy/kubernetes: the manifests validate against the Kubernetes OpenAPI
# schemas (npm kubernetes-models) and say what the DaemonSet must be; the
# ConfigMap's sonde.yaml runs as is (sonde --all with it counts a service
# started after it exactly); the annotation-based scrape config of
# deploy/prometheus/kubernetes.yml passes promtool, and a real Prometheus
# running its relabel rules scrapes sonde by the pod's annotations (the
# Kubernetes discovery replaced by a file that carries the same __meta_
# labels: Debian's Prometheus is built without it); the Containerfile's
# runtime packages hold every library the binary needs.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$SONDE_ROOT
need_node_modules kubernetes-models

step "the manifests: valid Kubernetes objects, a DaemonSet as the issue asks"
node "$LIB_DIR/node/k8s_validate.mjs" "$ROOT/deploy/kubernetes/sonde.yaml" >"$LIB_TMP/k8s.out" 2>&1 &&
	pass "every object valid ($(grep -c ': valid' "$LIB_TMP/k8s.out") documents)" ||
	fail "$(grep -v '^{' "$LIB_TMP/k8s.out" | grep -v ': valid' | head -5)"
"$PYTHON" - "$LIB_TMP/k8s.out" >"$LIB_TMP/k8s.check" 2>&1 <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
kinds, docs = d["kinds"], d["docs"]
by = {x["kind"]: x for x in docs}
ds = by["DaemonSet"]["spec"]["template"]
spec, c = ds["spec"], ds["spec"]["containers"][0]
mounts = {m["mountPath"] for m in c["volumeMounts"]}
env = {e["name"]: e for e in c.get("env", [])}
rules = by["ClusterRole"]["rules"]
checks = {
    "kinds": all(kinds.get(k) == 1 for k in ("Namespace", "ServiceAccount", "ClusterRole",
                                             "ClusterRoleBinding", "ConfigMap", "DaemonSet")),
    "hostPID": spec.get("hostPID") is True,
    "privileged": c["securityContext"].get("privileged") is True,
    "args --all --listen 0.0.0.0:9464": c["args"][:3] == ["--all", "--listen", "0.0.0.0:9464"],
    "NODE_NAME from the downward API": env.get("NODE_NAME", {}).get("valueFrom", {})
        .get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
    "probes /healthz /readyz": c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
    "mounts btf, tracefs, bpffs, cgroup": {"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf",
                                           "/sys/fs/cgroup"} <= mounts,
    "tolerates every taint": {"operator": "Exists"} in spec.get("tolerations", []),
    "scrape annotations": ds["metadata"]["annotations"].get("prometheus.io/scrape") == "true",
    "resources": "requests" in c.get("resources", {}) and "limits" in c["resources"],
    "ClusterRole: pods get/list/watch only": rules == [{"apiGroups": [""], "resources": ["pods"],
                                                        "verbs": ["get", "list", "watch"]}],
}
for k, v in checks.items():
    print(("ok   " if v else "BAD  ") + k)
sys.exit(0 if all(checks.values()) else 1)
PY
[ $? = 0 ] && pass "hostPID, privileged, --all, NODE_NAME, probes, mounts, tolerations, annotations, RBAC" ||
	fail "$(grep BAD "$LIB_TMP/k8s.check")"

step "the ConfigMap's sonde.yaml, as the DaemonSet runs it: nginx started after sonde, counted exactly"
"$PYTHON" - "$LIB_TMP/k8s.out" >"$LIB_TMP/sonde.yaml" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print([x for x in d["docs"] if x["kind"] == "ConfigMap"][0]["data"]["sonde.yaml"])
PY
start_sonde --all --config "$LIB_TMP/sonde.yaml" --max-services 5000
start_nginx "$LIB_DIR/nginx.conf.in"
for ((i = 0; i < 20; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 2 200 >/dev/null
assert_metric "nginx's requests" \
	'http_server_requests_seconds_count{service="nginx",method="GET",uri="/api/products/{id}",status="200",outcome="SUCCESS"}' 20
assert_metric "... checked against the seed's rate limit (allowed)" \
	'rate_limit_requests_total{service="nginx",rule="/api/products/**",result="allowed"}' 20

step "deploy/prometheus/kubernetes.yml: promtool, then its relabel rules in a real Prometheus"
dir=$LIB_TMP/prom-k8s
mkdir -p "$dir/data"
# The pod sonde runs in, and another that does not ask to be scraped, as
# Kubernetes discovery labels them.
cat >"$dir/pods.json" <<EOF
[{"targets": ["127.0.0.1:9999"], "labels": {
   "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
   "__meta_kubernetes_pod_annotation_prometheus_io_port": "$SONDE_PORT",
   "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
   "__meta_kubernetes_pod_node_name": "node-1", "__meta_kubernetes_pod_name": "sonde-abcde"}},
 {"targets": ["127.0.0.1:9998"], "labels": {
   "__meta_kubernetes_pod_node_name": "node-1", "__meta_kubernetes_pod_name": "other"}}]
EOF
"$PYTHON" - "$ROOT/deploy/prometheus/kubernetes.yml" "$dir/pods.json" >"$dir/prometheus.yml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# Only the discovery changes; the relabel rules are the file's own.
sd = re.compile(r"    kubernetes_sd_configs:\n(      .*\n)+")
assert sd.search(text), "no kubernetes_sd_configs block"
text = sd.sub("    file_sd_configs:\n      - files: [%s]\n" % sys.argv[2], text, count=1)
text = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", text)
text = re.sub(r"scrape_timeout: \S+", "scrape_timeout: 1s", text)
print(text, end="")
PY
promtool check config "$dir/prometheus.yml" >"$dir/promtool.out" 2>&1 &&
	pass "promtool check config" || fail "promtool: $(cat "$dir/promtool.out")"
PROM_PORT=$(free_port)
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$dir/prometheus.log" 2>&1 &
track_pid prometheus $!
wait_until 30 lib_http_ok "http://127.0.0.1:$PROM_PORT/-/ready" || die "prometheus not ready"
scraped() { [ "$(prom_query 'up{job="sonde",k8s_node="node-1",sonde_pod="sonde-abcde"}')" = 1 ]; }
assert_true "sonde scraped at the annotated port and path, labelled with its node" wait_until 20 scraped
assert_eq "the pod without the annotation: not a target" "" "$(prom_query 'up{sonde_pod="other"}')"
assert_gt "nginx's requests in Prometheus" 19 \
	"$(prom_query 'sum(http_server_requests_seconds_count{service="nginx",job="sonde"})' | cut -d. -f1)"
stop_sonde

step "the Containerfile's runtime packages hold every library build/sonde needs"
# The words of the runtime stage's apt-get install line (continuations joined).
pkgs=$(sed -n '/^FROM debian:bookworm-slim$/,$p' "$ROOT/deploy/kubernetes/Containerfile" |
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep 'apt-get install' |
	sed -e 's/.*--no-install-recommends//' -e 's/&&.*//' | tr -s ' \t' '\n' | grep . | sort -u)
missing=
for lib in $(readelf -d "$SONDE_BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
	[ "$lib" = libc.so.6 ] && continue # in every Debian image
	pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v -- '-dev' | head -1 | cut -d: -f1)
	echo "$pkgs" | grep -qx "$pkg" || missing="$missing $lib($pkg)"
done
assert_eq "libraries without their package in the image" "" "$missing"

finish
