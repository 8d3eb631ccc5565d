#!/bin/bash
# Kafka seen from its clients, against librdkafka's mock cluster
# (build/mock_broker): records produced by kcat and by a confluent-kafka
# producer are counted per topic, and a consumer group member that commits K
# of the N records then stops shows a lag of N - K.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

P1=200 P2=50 K=150
N=$((P1 + P2))
MOCK=$SONDE_ROOT/build/mock_broker
[ -x "$MOCK" ] || die "$MOCK not built (make build/mock_broker)"

"$MOCK" --topic order-events:1 --topic payment-events:1 --ready-file "$LIB_TMP/bootstrap" \
	>"$LIB_TMP/mock.out" 2>&1 &
track_pid kafka $!
wait_until 10 test -s "$LIB_TMP/bootstrap" || die "mock broker did not start: $(cat "$LIB_TMP/mock.out")"
B=$(cat "$LIB_TMP/bootstrap")
echo "   bootstrap: $B"

start_gated kcat bash -c "seq 1 $P1 | kcat -b $B -P -t order-events"
kcat_pid=$GATED_PID
cat >"$LIB_TMP/producer.py" <<'PY'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
for i in range(int(sys.argv[2])):
    p.produce("order-events", ("order-%d" % i).encode())
assert p.flush(10) == 0
print("ok")
PY
start_gated producer "$PYTHON" "$LIB_TMP/producer.py" "$B" "$P2"
prod_pid=$GATED_PID
cat >"$LIB_TMP/consumer.py" <<'PY'
import os, sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "sonde-test",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe(["order-events"])
want, got, deadline = int(sys.argv[2]), 0, time.time() + 30
last = None
while got < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    got += 1
    last = m
c.commit(message=last, asynchronous=False)
print("consumed", got, flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
c.close()
PY
start_gated consumer "$PYTHON" "$LIB_TMP/consumer.py" "$B" "$K" "$LIB_TMP/release"
cons_pid=$GATED_PID

start_sonde --pid "$kcat_pid=kcat" --pid "$prod_pid=py-producer" --pid "$cons_pid=py-consumer"

step "kcat produces $P1 records, confluent-kafka $P2, to order-events"
open_gate kcat
wait "$kcat_pid" || fail "kcat failed: $(cat "$LIB_TMP/kcat.out")"
open_gate producer
wait "$prod_pid" || fail "producer failed: $(cat "$LIB_TMP/producer.out")"
s=kafka_producer_record_send_total
assert_metric "kcat records sent" "$s{service=\"kcat\",topic=\"order-events\"}" "$P1"
assert_metric "confluent-kafka records sent" "$s{service=\"py-producer\",topic=\"order-events\"}" "$P2"
assert_true "produce requests timed" metric_sum 'kafka_producer_request_seconds_count{service="kcat"}'

step "a consumer group member commits $K of $N and stops"
open_gate consumer
wait_until 40 grep -q consumed "$LIB_TMP/consumer.out" || fail "consumer: $(cat "$LIB_TMP/consumer.out")"
grep -q "consumed $K" "$LIB_TMP/consumer.out" || fail "consumer did not get $K: $(cat "$LIB_TMP/consumer.out")"
assert_metric "lag on order-events/0" \
	'kafka_consumer_records_lag{service="py-consumer",topic="order-events",partition="0"}' $((N - K))
assert_metric "lag max" 'kafka_consumer_records_lag_max{service="py-consumer"}' $((N - K))
assert_metric "one commit timed" 'kafka_consumer_commit_latency_seconds_count{service="py-consumer"}' 1
consumed=$(metric 'kafka_consumer_records_consumed_total{service="py-consumer",topic="order-events"}')
echo "   records seen in Fetch responses: ${consumed:-none} (batches past the capture are not guessed)"
assert_gt "records consumed counted" 0 "${consumed:-0}"
touch "$LIB_TMP/release"
wait "$cons_pid"
assert_eq "no parse errors" 0 "$(metric 'sonde_parse_errors_total{protocol="kafka",reason="malformed"}')"
finish
