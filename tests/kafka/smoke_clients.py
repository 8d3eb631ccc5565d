#!/usr/bin/python3
"""confluent-kafka clients for tests/kafka/smoke.sh (Debian's /usr/bin/python3).

  smoke_clients.py produce ADDR TOPIC N            N messages, flush, all delivered
  smoke_clients.py consume ADDR TOPIC GROUP K      consume exactly K in GROUP, commit, close
  smoke_clients.py rest ADDR TOPIC GROUP TOTAL     the same GROUP resumes: committed + rest == TOTAL

Set KAFKA_DEBUG=protocol to get librdkafka's protocol log on stderr.
Prints one line per check; exits 0 when all hold, 1 otherwise.
"""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

DEADLINE_S = 30.0


def conf(addr, **extra):
    c = {"bootstrap.servers": addr}
    if os.environ.get("KAFKA_DEBUG"):
        c["debug"] = os.environ["KAFKA_DEBUG"]
    c.update(extra)
    return c


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def produce(addr, topic, n):
    delivered = []
    errors = []

    def on_delivery(err, msg):
        (errors if err else delivered).append(err or msg.offset())

    p = Producer(conf(addr, **{"linger.ms": 5}))
    for i in range(n):
        p.produce(topic, key=str(i % 7), value="order-%d" % i, on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(DEADLINE_S)
    if left or errors or len(delivered) != n:
        fail("produce: %d left in queue, %d errors %s, %d delivered of %d"
             % (left, len(errors), errors[:3], len(delivered), n))
    print("ok: python producer: %d messages to %s delivered, flush() left 0" % (n, topic))


def group_consumer(addr, group):
    return Consumer(conf(addr, **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        # The mock coordinator holds a rejoin of a group that had members for about the
        # session timeout (45 s by default): keep it short.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    }))


def committed_total(c, topic, nparts):
    tps = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=10)
    return sum(tp.offset for tp in tps if tp.offset >= 0)


def partitions(c, topic):
    md = c.list_topics(topic, timeout=10)
    return len(md.topics[topic].partitions)


def consume(addr, topic, group, k):
    c = group_consumer(addr, group)
    c.subscribe([topic])
    got = 0
    end = time.monotonic() + DEADLINE_S
    while got < k and time.monotonic() < end:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            fail("consume: %s" % m.error())
        got += 1
    if got != k:
        c.close()
        fail("consume: %d of %d messages within %.0fs" % (got, k, DEADLINE_S))
    c.commit(asynchronous=False)
    nparts = partitions(c, topic)
    total = committed_total(c, topic, nparts)
    c.close()
    if total != k:
        fail("consume: committed offsets sum to %d, want %d" % (total, k))
    print("ok: python consumer group %s: consumed exactly %d, commit() sync, committed sum %d, "
          "closed" % (group, k, total))


def rest(addr, topic, group, total):
    c = group_consumer(addr, group)
    nparts = partitions(c, topic)
    hw = 0
    for p in range(nparts):
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        hw += hi - lo
    if hw != total:
        c.close()
        fail("rest: watermarks span %d messages, want %d" % (hw, total))
    before = committed_total(c, topic, nparts)
    c.subscribe([topic])
    got = 0
    eof = set()
    end = time.monotonic() + DEADLINE_S
    while len(eof) < nparts and time.monotonic() < end:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            fail("rest: %s" % m.error())
        eof.discard(m.partition())
        got += 1
    c.close()
    if len(eof) < nparts:
        fail("rest: EOF on %d of %d partitions within %.0fs" % (len(eof), nparts, DEADLINE_S))
    if before + got != total:
        fail("rest: committed %d + resumed %d != %d" % (before, got, total))
    print("ok: python consumer group %s resumed: committed %d + read %d = %d = high watermarks"
          % (group, before, got, total))


def main(argv):
    if len(argv) == 5 and argv[1] == "produce":
        produce(argv[2], argv[3], int(argv[4]))
    elif len(argv) == 6 and argv[1] == "consume":
        consume(argv[2], argv[3], argv[4], int(argv[5]))
    elif len(argv) == 6 and argv[1] == "rest":
        rest(argv[2], argv[3], argv[4], int(argv[5]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
