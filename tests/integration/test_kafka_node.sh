#!/bin/bash
# kafkajs against librdkafka's mock cluster, attached before the client
# connected and after: a producer with 16 sends in flight on one connection
# (their responses read several to a read), a backlog of 100-record batches of
# 1 KiB records (a Fetch response far past the capture), and a consumer group
# that reads it all and commits all of one topic but only K records of the
# other. sonde's figures equal the broker's: records sent = the partitions'
# end offsets, records consumed = what the consumer received, lag = end offset
# - committed offset, per partition. Issue #10: kafkajs's records sent were
# never counted when attached late (its Metadata request read as a PostgreSQL
# startup), and 2,625 of 4,075 consumed records were missed.
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=12 BATCHES=8 K=150
MOCK=$SONDE_ROOT/build/mock_broker
[ -x "$MOCK" ] || die "$MOCK not built (make build/mock_broker)"
NODE_MODULES=$SONDE_ROOT/build/node/node_modules
[ -d "$NODE_MODULES/kafkajs" ] || die "Node.js test clients missing: run scripts/deps.sh test"
export NODE_MODULES

"$MOCK" --topic orders-a:3 --topic payments-a:1 --topic orders-b:3 --topic payments-b:1 \
	--ready-file "$LIB_TMP/bootstrap" >"$LIB_TMP/mock.out" 2>&1 &
track_pid kafka $!
wait_until 10 test -s "$LIB_TMP/bootstrap" || die "mock broker did not start: $(cat "$LIB_TMP/mock.out")"
B=$(cat "$LIB_TMP/bootstrap")

cat >"$LIB_TMP/shop.js" <<'JS'
// node shop.js BROKER SUFFIX ROUNDS BATCHES K [GO_FILE]
const { Kafka, logLevel } = require(process.env.NODE_MODULES + '/kafkajs');
const fs = require('fs');
const [broker, sfx, rounds, batches, k, go] = process.argv.slice(2);
const orders = 'orders-' + sfx, payments = 'payments-' + sfx;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const kafka = new Kafka({ clientId: 'shop', brokers: [broker], logLevel: logLevel.NOTHING });
  const producer = kafka.producer(), admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: 'shop-' + sfx });
  await producer.connect();
  await admin.connect();
  await consumer.connect();
  if (go) { // connected: wait until sonde looks
    fs.writeFileSync(go + '.ready', '');
    while (!fs.existsSync(go)) await sleep(50);
  }
  for (let r = 0; r < Number(rounds); r++) { // 16 sends in flight
    const sends = [];
    for (let j = 0; j < 16; j++)
      sends.push(producer.send({ topic: orders, messages: [{ key: 'o' + j, value: 'order '.repeat(40) + r + '/' + j }] }));
    await Promise.all(sends);
  }
  for (let b = 0; b < Number(batches); b++) { // the backlog: 100 records of 1 KiB a batch
    const messages = [];
    for (let j = 0; j < 100; j++) messages.push({ value: 'p'.repeat(1024) + b + '/' + j });
    await producer.send({ topic: payments, messages });
  }
  const total = Number(rounds) * 16 + Number(batches) * 100;
  let got = 0, paid = 0, done;
  const finished = new Promise((r) => (done = r));
  await consumer.subscribe({ topics: [orders, payments], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      got++;
      const next = (BigInt(message.offset) + 1n).toString();
      if (topic === orders) await consumer.commitOffsets([{ topic, partition, offset: next }]);
      else if (++paid === Number(k)) await consumer.commitOffsets([{ topic, partition, offset: next }]);
      if (got === total) done();
    },
  });
  await finished;
  await sleep(1500); // fetches go on: the consumer learns the end offsets
  const truth = { got, end: {}, committed: {} };
  for (const t of [orders, payments]) {
    for (const p of await admin.fetchTopicOffsets(t)) truth.end[t + '/' + p.partition] = Number(p.high);
  }
  for (const t of await admin.fetchOffsets({ groupId: 'shop-' + sfx, topics: [orders, payments] }))
    for (const p of t.partitions) truth.committed[t.topic + '/' + p.partition] = Number(p.offset);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  console.log(JSON.stringify(truth));
})().catch((e) => { console.error(e); process.exit(1); });
JS

# The late one connects first; sonde attaches while it waits for its go file.
node "$LIB_TMP/shop.js" "$B" b "$ROUNDS" "$BATCHES" "$K" "$LIB_TMP/go" >"$LIB_TMP/late.out" 2>&1 &
late_pid=$!
track_pid node "$late_pid"
wait_until 30 test -e "$LIB_TMP/go.ready" || die "kafkajs did not connect: $(cat "$LIB_TMP/late.out")"
start_gated early node "$LIB_TMP/shop.js" "$B" a "$ROUNDS" "$BATCHES" "$K"
early_pid=$GATED_PID
start_sonde --pid "$early_pid=shop-early" --pid "$late_pid=shop-late"

check() { # SERVICE SUFFIX OUTFILE
	local svc=$1 sfx=$2 out=$3 t p end com sum
	for t in orders-$sfx payments-$sfx; do
		sum=0
		for p in 0 1 2; do
			end=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"].get(sys.argv[2], ""))' "$out" "$t/$p")
			[ -n "$end" ] || continue
			com=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["committed"].get(sys.argv[2], -1))' "$out" "$t/$p")
			sum=$((sum + end))
			echo "   $t/$p: end offset $end, committed $com"
			assert_metric "$svc lag $t/$p" \
				"kafka_consumer_records_lag{service=\"$svc\",topic=\"$t\",partition=\"$p\"}" $((end - com))
		done
		assert_metric "$svc records sent to $t" \
			"kafka_producer_record_send_total{service=\"$svc\",topic=\"$t\"}" "$sum"
		assert_metric "$svc records consumed from $t" \
			"kafka_consumer_records_consumed_total{service=\"$svc\",topic=\"$t\"}" "$sum"
	done
}

step "attached before it connected: $((ROUNDS * 16)) sends 16 in flight, $BATCHES batches of 100 x 1 KiB, consumed, $K of a topic committed"
open_gate early
wait "$early_pid" || die "kafkajs failed: $(cat "$LIB_TMP/early.out")"
check shop-early a "$LIB_TMP/early.out"

step "attached after it connected: the same"
touch "$LIB_TMP/go"
wait "$late_pid" || die "kafkajs failed: $(cat "$LIB_TMP/late.out")"
check shop-late b "$LIB_TMP/late.out"
assert_eq "no parse errors" 0 "$(metric 'sonde_parse_errors_total{protocol="kafka",reason="malformed"}')"
assert_eq "framing never lost" 0 "$(metric 'sonde_unparsed_total{protocol="kafka",reason="framing_lost"}')"
finish
