#!/bin/bash
# Kubernetes names from the API server, --k8s-labels, discovery.names.
# A stand-in for the API server's pod endpoints (k8s_api_stub.py: HTTPS with
# a certificate made here, a bearer token, a PodList, a chunked watch) knows
# this node's pods; the kubelet's directories are empty, so what sonde says of
# a pod comes from the API (or, for a pod the API does not know, from its
# container's HOSTNAME). Processes are moved into cgroups named as containerd
# and CRI-O name a pod's container (made under this machine's cgroup v2):
#   - checkout-canary-x2x9z, two containers, owned by ReplicaSet
#     checkout-5f6d7c8b9a: service "checkout" (the owner's Deployment, not the
#     name's guess "checkout-canary"), container "app" by its container ID;
#   - node-agent-canary-abcde, owned by DaemonSet node-agent, added to the
#     watch after sonde started: service "node-agent";
#   - a pod the API does not know, HOSTNAME=inventory-6c8d9b7f5-abcde:
#     service "inventory";
#   - a process outside pods named by discovery.names: service "catalog".
# Each counted exactly, its series labelled k8s_namespace, k8s_pod,
# k8s_container, k8s_node (--k8s-labels); log lines carry the container.
# Then the API server goes away: sonde counts the errors and stays healthy.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG" ] && [ -f "$CG/cgroup.procs" ] || die "no cgroup v2 hierarchy mounted"
API=$LIB_TMP/api
mkdir -p "$API" "$LIB_TMP/kubelet/pods"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$API/key.pem" -out "$API/ca.crt" 2>/dev/null ||
	die "cannot make a certificate"
TOKEN=sonde-test-token-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$API/token"

CIDA=$(printf 'a%.0s' {1..64}) CIDA2=$(printf 'e%.0s' {1..64})
CIDB=$(printf 'b%.0s' {1..64}) CIDC=$(printf 'c%.0s' {1..64})
UIDA=0a1b2c3d-4e5f-6789-abcd-ef0123456789 UIDB=11111111-2222-3333-4444-555555555555
UIDC=99999999-8888-7777-6666-555555555555
pod_json() { # UID NAME NAMESPACE OWNER_KIND OWNER_NAME RUNTIME CONTAINER:ID...
	local uid=$1 name=$2 ns=$3 kind=$4 owner=$5 rt=$6 c sts=""
	shift 6
	for c in "$@"; do
		sts="$sts${sts:+,}{\"name\":\"${c%%:*}\",\"containerID\":\"$rt://${c#*:}\",\"ready\":true}"
	done
	printf '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s","uid":"%s","resourceVersion":"99",' \
		"$name" "$ns" "$uid"
	printf '"ownerReferences":[{"apiVersion":"apps/v1","kind":"%s","name":"%s","uid":"%s","controller":true}]},' \
		"$kind" "$owner" "$UIDC"
	printf '"spec":{"nodeName":"node-a"},"status":{"phase":"Running","containerStatuses":[%s]}}' "$sts"
}
printf '[%s]\n' "$(pod_json "$UIDA" checkout-canary-x2x9z shop ReplicaSet checkout-5f6d7c8b9a containerd \
	"app:$CIDA" "sidecar:$CIDA2")" >"$API/pods.json"
"$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$API/pods.json" || die "bad pods.json"
API_PORT=$(free_port)
"$PYTHON" "$LIB_DIR/k8s_api_stub.py" "$API_PORT" "$API" "$API/ca.crt" "$API/key.pem" "$TOKEN" node-a \
	>"$LIB_TMP/api.out" 2>&1 &
API_PID=$!
track_pid api "$API_PID"
wait_until 10 grep -q ready "$LIB_TMP/api.out" || die "the API stub did not start: $(cat "$LIB_TMP/api.out")"

POD_A=$CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDA//-/_}.slice
POD_B=$CG/kubepods.slice/kubepods-pod${UIDB//-/_}.slice
POD_C=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UIDC//-/_}.slice
NAMED=$CG/sonde-it-names.slice
CGS=("$POD_A/cri-containerd-$CIDA.scope" "$POD_B/crio-$CIDB.scope" "$POD_C/cri-containerd-$CIDC.scope" "$NAMED")
mkdir -p "${CGS[@]}" || die "cannot make cgroups"
cleanup_cgroups() {
	rmdir "${CGS[@]}" "$POD_A" "$POD_B" "$POD_C" "$CG/kubepods.slice/kubepods-burstable.slice" \
		"$CG/kubepods.slice/kubepods-besteffort.slice" "$CG/kubepods.slice" 2>/dev/null
}

cat >"$LIB_TMP/k8s.yaml" <<EOF
discovery:
  kubelet_pods: $LIB_TMP/kubelet/pods
  kubernetes_api: https://127.0.0.1:$API_PORT
  kubernetes_token: $API/token
  kubernetes_ca: $API/ca.crt
  names:
    - {name: catalog, match_comm: "^python3", match_cgroup: /sonde-it-names.slice}
EOF
export NODE_NAME=node-a
start_sonde --all --match-cgroup /kubepods.slice --match-cgroup /sonde-it-names.slice --k8s-labels \
	--config "$LIB_TMP/k8s.yaml" -vv --log-file "$LIB_TMP/pods.log"
unset NODE_NAME

step "the API server's pods of this node: a list with the token, then a watch from its resourceVersion"
assert_true "listed with the bearer token, this node's pods only" \
	grep -q '^GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a auth=ok' "$API/requests.log"
wait_until 5 grep -q 'watch=1.*resourceVersion=100 auth=ok' "$API/requests.log"
assert_true "watched from the list's resourceVersion" grep -q 'watch=1.*resourceVersion=100 auth=ok' "$API/requests.log"
assert_eq "no request without the token" 0 "$(grep -c 'auth=bad' "$API/requests.log")"
# The second pod appears on the watch, then its container starts.
printf '{"type":"ADDED","object":%s}\n' "$(pod_json "$UIDB" node-agent-canary-abcde infra DaemonSet node-agent \
	cri-o "agent:$CIDB")" >"$API/event-1.json.tmp"
mv "$API/event-1.json.tmp" "$API/event-1.json"
wait_until 5 grep -q 'sent event-1.json' "$API/requests.log" || die "the stub did not send the event"
assert_metric "pods known from the API (one listed, one watched)" 'sonde_k8s_api_pods' 2

step "processes in the pods' cgroups, and one outside named by discovery.names"
ports=() pids=()
i=0
for cg in "${CGS[@]}"; do
	port=$(free_port)
	env=()
	[ "$cg" = "${CGS[2]}" ] && env=(HOSTNAME=inventory-6c8d9b7f5-abcde)
	start_gated "srv$i" env "${env[@]}" "$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$LIB_TMP/kubelet"
	echo "$GATED_PID" >"$cg/cgroup.procs" || die "cannot move $GATED_PID into $cg"
	open_gate "srv$i"
	wait_until 10 lib_port_listening "$port" || die "the server in $cg did not start"
	ports+=("$port")
	pids+=("$GATED_PID")
	i=$((i + 1))
done
N=(12 7 5 4)
for i in 0 1 2 3; do
	for ((k = 0; k < N[i]; k++)); do echo "http://127.0.0.1:${ports[i]}/"; done | send_requests keep 2 200 >/dev/null
done
S='method="GET",uri="/",status="200",outcome="SUCCESS"'
assert_metric "checkout: the owner's workload, the container of its ID, with --k8s-labels" \
	"http_server_requests_seconds_count{service=\"checkout\",$S,k8s_namespace=\"shop\",k8s_pod=\"checkout-canary-x2x9z\",k8s_container=\"app\",k8s_node=\"node-a\"}" 12
assert_metric "node-agent: a pod the watch added" \
	"http_server_requests_seconds_count{service=\"node-agent\",$S,k8s_namespace=\"infra\",k8s_pod=\"node-agent-canary-abcde\",k8s_container=\"agent\",k8s_node=\"node-a\"}" 7
assert_metric "inventory: a pod the API does not know, named by its HOSTNAME" \
	"http_server_requests_seconds_count{service=\"inventory\",$S,k8s_namespace=\"\",k8s_pod=\"inventory-6c8d9b7f5-abcde\",k8s_container=\"\",k8s_node=\"node-a\"}" 5
assert_metric "catalog: a process outside pods, named by discovery.names" \
	"http_server_requests_seconds_count{service=\"catalog\",$S,k8s_namespace=\"\",k8s_pod=\"\",k8s_container=\"\",k8s_node=\"\"}" 4
assert_eq "no other series" 4 \
	"$(curl -s "http://127.0.0.1:$SONDE_PORT/metrics" | grep -c '^http_server_requests_seconds_count')"
wait_until 5 grep -q '"service.name":"catalog"' "$LIB_TMP/pods.log"
"$PYTHON" - "$LIB_TMP/pods.log" >"$LIB_TMP/pods.check" 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
co = [l for l in lines if l.get("service.name") == "checkout"]
ok = len(co) == 12 and all(l.get("k8s.container.name") == "app" and l.get("k8s.pod.name") ==
                           "checkout-canary-x2x9z" and l.get("k8s.namespace.name") == "shop" for l in co)
print("%d checkout lines %s" % (len(co), "with namespace, pod and container" if ok else "BAD: %r" % co[:1]))
sys.exit(0 if ok else 1)
PY
[ $? = 0 ] && pass "log lines: $(cat "$LIB_TMP/pods.check")" || fail "log lines: $(cat "$LIB_TMP/pods.check")"
assert_metric "no API error" 'sonde_k8s_api_errors_total' 0

step "the API server goes away: errors counted, sonde healthy, names kept"
kill "$API_PID"
wait "$API_PID" 2>/dev/null
wait_until 10 sh -c "curl -s http://127.0.0.1:$SONDE_PORT/metrics | grep -q '^sonde_k8s_api_errors_total [1-9]'"
assert_true "errors counted" sh -c "curl -s http://127.0.0.1:$SONDE_PORT/metrics | grep -q '^sonde_k8s_api_errors_total [1-9]'"
assert_eq "/healthz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SONDE_PORT/healthz")"
for ((k = 0; k < 3; k++)); do echo "http://127.0.0.1:${ports[0]}/"; done | send_requests keep 1 200 >/dev/null
assert_metric "checkout still counted under its names" \
	"http_server_requests_seconds_count{service=\"checkout\",$S,k8s_namespace=\"shop\",k8s_pod=\"checkout-canary-x2x9z\",k8s_container=\"app\",k8s_node=\"node-a\"}" 15
stop_sonde
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
cleanup_cgroups

finish
