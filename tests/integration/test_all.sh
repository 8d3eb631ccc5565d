#!/bin/bash
# Node-wide mode (--all): sonde is started first, with no PID; nginx, a
# python3 server and redis-server start after it and are observed from their
# exec on, each under its process name, with exact counts (Redis commands are
# counted on the client's side, docs/metrics.md: redis-cli, observed too).
# redis-server exits and a new one takes its port: it is found again at its
# exec, and the commands sent to it are counted exactly. Then --match-comm
# nginx: only nginx's series. Then Kubernetes names: two python3 servers put
# in cgroups named as containerd and CRI-O name a pod's container (the test
# makes them under cgroup v2) with the kubelet's directories of their pods
# (a hosts file, a ServiceAccount volume): each is named after its workload.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

N_NGINX=50 N_PY=30 N_REDIS=40 N_REDIS2=20
pod_pids=()

# Every process of the machine is observed: room for all their names.
start_sonde --all --max-services 5000 -vv

step "nginx, a python3 server and redis-server start after sonde"
start_nginx "$LIB_DIR/nginx.conf.in"
PY_PORT=$(free_port)
"$PYTHON" -m http.server "$PY_PORT" --bind 127.0.0.1 --directory "$LIB_TMP" >"$LIB_TMP/py.log" 2>&1 &
PY_PID=$!
track_pid python "$PY_PID"
wait_until 10 lib_port_listening "$PY_PORT" || die "python3 server did not start"
start_redis
for ((i = 0; i < N_NGINX; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 4 200 >/dev/null
for ((i = 0; i < N_PY; i++)); do echo "http://127.0.0.1:$PY_PORT/"; done | send_requests keep 2 200 >/dev/null
# redis-cli is found at its exec, a few ms later (docs/configuration.md): its
# commands come a second after it started, as from a client that has work to do.
{ sleep 1; for ((i = 0; i < N_REDIS; i++)); do echo "GET all:$i"; done; } | redis-cli -p "$REDIS_PORT" >/dev/null
assert_metric "nginx: every request, under its process name" \
	'http_server_requests_seconds_count{service="nginx",method="GET",uri="/api/products/{id}",status="200",outcome="SUCCESS"}' "$N_NGINX"
assert_metric "python3 http.server: every request" \
	'http_server_requests_seconds_count{service="python3",method="GET",uri="/",status="200",outcome="SUCCESS"}' "$N_PY"
assert_metric "redis-server: every GET (redis-cli's side)" \
	'redis_commands_seconds_count{service="redis-cli",command="GET",outcome="SUCCESS"}' "$N_REDIS"
assert_gt "processes discovered at their exec" 2 "$(metric sonde_discovered_processes_total)"
assert_true "sonde never observes itself" bash -c "! grep -q 'observing pid $SONDE_PID ' '$SONDE_LOG'"

step "redis-server exits; a new one on the same port inherits nothing"
old_pid=$REDIS_PID
found=$(metric sonde_discovered_processes_total)
kill "$old_pid"
wait "$old_pid" 2>/dev/null
port=$REDIS_PORT
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
	--dir "$LIB_TMP" >"$LIB_TMP/redis2.log" 2>&1 &
REDIS_PID=$!
track_pid redis "$REDIS_PID"
wait_until 10 lib_redis_ready || die "the second redis-server did not start"
{ sleep 1; for ((i = 0; i < N_REDIS2; i++)); do echo "GET all:$i"; done; } | redis-cli -p "$port" >/dev/null
assert_true "the new redis-server found at its exec" grep -q "observing pid $REDIS_PID (" "$SONDE_LOG"
assert_gt "... counted as discovered" "$found" "$(metric sonde_discovered_processes_total)"
assert_metric "the GETs sent to it counted exactly (the series goes on: same names)" \
	'redis_commands_seconds_count{service="redis-cli",command="GET",outcome="SUCCESS"}' $((N_REDIS + N_REDIS2))
assert_eq "no record of a process sonde no longer knows" 0 "$(metric_sum sonde_events_malformed_total)"
stop_sonde

step "--all --match-comm '^nginx\$': only nginx"
SONDE_PORT=
start_sonde --all --match-comm '^nginx$'
for ((i = 0; i < 10; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 2 200 >/dev/null
for ((i = 0; i < 10; i++)); do echo "http://127.0.0.1:$PY_PORT/"; done | send_requests keep 2 200 >/dev/null
for ((i = 0; i < 10; i++)); do echo "GET all:$i"; done | redis-cli -p "$port" >/dev/null
assert_metric "nginx (running before this sonde: found at start)" \
	'http_server_requests_seconds_count{service="nginx",method="GET",uri="/api/products/{id}",status="200",outcome="SUCCESS"}' 10
assert_eq "no other service's series" "" \
	"$(curl -s "http://127.0.0.1:$SONDE_PORT/metrics" | grep -E '^(http_server|http_client|redis)_' | grep -v 'service="nginx"' | head -3)"
stop_sonde

step "--match-port: a server listening on the port (before sonde, and after), a client connecting to it"
P2=$(free_port)
SONDE_PORT=
start_sonde --all --match-port "$PY_PORT" --match-port "$P2" -vv
"$PYTHON" -m http.server "$P2" --bind 127.0.0.1 --directory "$LIB_TMP" >"$LIB_TMP/py2.log" 2>&1 &
P2_PID=$!
track_pid python "$P2_PID"
wait_until 10 lib_port_listening "$P2" || die "the second python3 server did not start"
cat >"$LIB_TMP/portclient.py" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.connect()
time.sleep(1) # sonde observes it from a moment after its connect
for i in range(5):
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
print("done", flush=True)
PY
"$PYTHON" "$LIB_TMP/portclient.py" "$PY_PORT" >"$LIB_TMP/portclient.out" 2>&1 || fail "the client: $(cat "$LIB_TMP/portclient.out")"
for ((i = 0; i < 9; i++)); do echo "http://127.0.0.1:$P2/"; done | send_requests keep 2 200 >/dev/null
for ((i = 0; i < 3; i++)); do echo "http://127.0.0.1:$NGINX_PORT/api/products/$i"; done |
	send_requests keep 2 200 >/dev/null
assert_true "the server listening before sonde: found at start by its port" \
	grep -q "observing pid $PY_PID (.*) (its port)" "$SONDE_LOG"
assert_true "the server started after: found at its listen()" grep -q "observing pid $P2_PID (.*) (port $P2)" "$SONDE_LOG"
assert_metric "its requests, on the server's side (5 from the client below, on the first server)" \
	'http_server_requests_seconds_count{service="python3",method="GET",uri="/",status="200",outcome="SUCCESS"}' 14
assert_eq "the client that connected to the port: its calls" 5 \
	"$(metric_sum 'http_client_requests_seconds_count{service="python3",method="GET",uri="/",status="200"}')"
assert_eq "nginx (not on a watched port): not observed" "" \
	"$(curl -s "http://127.0.0.1:$SONDE_PORT/metrics" | grep '^http_server' | grep 'service="nginx"' | head -1)"
stop_sonde

step "pods: cgroups named as containerd and CRI-O name them, the kubelet's pod directories"
# The cgroup v2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout).
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG" ] && [ -f "$CG/cgroup.procs" ] || die "no cgroup v2 hierarchy mounted"
CID1=$(printf 'a%.0s' {1..64}) CID2=$(printf 'b%.0s' {1..63})c
UID1=0a1b2c3d-4e5f-6789-abcd-ef0123456789 UID2=11111111-2222-3333-4444-555555555555
POD1=$CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID1//-/_}.slice
POD2=$CG/kubepods.slice/kubepods-pod${UID2//-/_}.slice
mkdir -p "$POD1/cri-containerd-$CID1.scope" "$POD2/crio-$CID2.scope" || die "cannot make cgroups"
PODS=$LIB_TMP/kubelet/pods
for u in "$UID1:order-service-7d9f8c6b5d-x2x9z:order" "$UID2:payment-0:payment"; do
	IFS=: read -r uid name container <<<"$u"
	mkdir -p "$PODS/$uid/containers/$container" "$PODS/$uid/volumes/kubernetes.io~projected/kube-api-access-abcde"
	printf '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n10.244.1.7\t%s\n' "$name" >"$PODS/$uid/etc-hosts"
	echo shop >"$PODS/$uid/volumes/kubernetes.io~projected/kube-api-access-abcde/namespace"
done
printf 'discovery:\n  kubelet_pods: %s\n' "$PODS" >"$LIB_TMP/k8s.yaml"
SONDE_PORT=
export NODE_NAME=node-1 # as the DaemonSet's downward API sets it
start_sonde --all --match-cgroup /kubepods.slice --config "$LIB_TMP/k8s.yaml" -vv \
	--log-file "$LIB_TMP/pods.log"
unset NODE_NAME
ports=()
for cg in "$POD1/cri-containerd-$CID1.scope" "$POD2/crio-$CID2.scope"; do
	port=$(free_port)
	start_gated "pod$port" "$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$LIB_TMP"
	echo "$GATED_PID" >"$cg/cgroup.procs" || die "cannot move $GATED_PID into $cg"
	open_gate "pod$port"
	wait_until 10 lib_port_listening "$port" || die "the server in $cg did not start"
	ports+=("$port")
	pod_pids+=("$GATED_PID")
done
for ((i = 0; i < 12; i++)); do echo "http://127.0.0.1:${ports[0]}/"; done | send_requests keep 2 200 >/dev/null
for ((i = 0; i < 7; i++)); do echo "http://127.0.0.1:${ports[1]}/"; done | send_requests keep 2 200 >/dev/null
assert_metric "containerd's pod: its workload's name (Deployment)" \
	'http_server_requests_seconds_count{service="order-service",method="GET",uri="/",status="200",outcome="SUCCESS"}' 12
assert_metric "CRI-O's pod: its workload's name (StatefulSet)" \
	'http_server_requests_seconds_count{service="payment",method="GET",uri="/",status="200",outcome="SUCCESS"}' 7
assert_true "sonde named the pod and its namespace" grep -q "pod shop/order-service-7d9f8c6b5d-x2x9z" "$SONDE_LOG"
wait_until 5 grep -q '"k8s.pod.name":"payment-0"' "$LIB_TMP/pods.log"
"$PYTHON" - "$LIB_TMP/pods.log" "http://127.0.0.1:$SONDE_PORT" >"$LIB_TMP/pods.check" 2>&1 <<'PY'
import json, sys, urllib.request
lines = [json.loads(l) for l in open(sys.argv[1])]
order = [l for l in lines if l.get("service.name") == "order-service"]
want = {"k8s.namespace.name": "shop", "k8s.pod.name": "order-service-7d9f8c6b5d-x2x9z",
        "k8s.container.name": "order", "k8s.node.name": "node-1"}
ok_lines = len(order) == 12 and all(all(l.get(k) == v for k, v in want.items()) for l in order)
spans = json.load(urllib.request.urlopen("%s/api/traces/%s" % (sys.argv[2], order[0]["trace.id"]), timeout=5))
tags = [s.get("tags", {}) for s in spans if s.get("kind") == "SERVER"]
ok_span = len(tags) == 1 and all(tags[0].get(k) == v for k, v in want.items())
print("lines %d %s; span %s" % (len(order), "ok" if ok_lines else "BAD", "ok" if ok_span else "BAD %r" % tags))
sys.exit(0 if ok_lines and ok_span else 1)
PY
[ $? = 0 ] && pass "the pod on log lines and spans: $(cat "$LIB_TMP/pods.check")" ||
	fail "k8s fields: $(cat "$LIB_TMP/pods.check")"
assert_eq "nothing outside the pods' cgroups (--match-cgroup)" "" \
	"$(curl -s "http://127.0.0.1:$SONDE_PORT/metrics" | grep '^http_server' | grep -v -e 'service="order-service"' -e 'service="payment"' | head -3)"
stop_sonde
kill "${pod_pids[@]}" 2>/dev/null
wait "${pod_pids[@]}" 2>/dev/null
rmdir "$POD1/cri-containerd-$CID1.scope" "$POD1" "$POD2/crio-$CID2.scope" "$POD2" \
	"$CG/kubepods.slice/kubepods-burstable.slice" "$CG/kubepods.slice" 2>/dev/null

finish
