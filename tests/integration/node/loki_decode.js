#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Decode Loki push bodies (POST /loki/api/v1/push, Content-Type
// application/x-protobuf: a snappy-compressed logproto.PushRequest) with
// standard libraries: snappyjs for the block format, and protobufjs with
// Loki's own logproto definitions (the module winston-loki generates from
// Loki's logproto.proto). Never a hand-written decoder.
//
//   node loki_decode.js FILE...
//
// Prints one JSON object per entry: {"labels", "ts_ns", "line"}; exits 1 if
// a body does not decompress, does not decode, or fails PushRequest.verify,
// or if decoding leaves bytes unread (re-encoding must give the same bytes).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');
const snappy = require(path.join(MODULES, 'snappyjs'));
const proto = require(path.join(MODULES, 'winston-loki/src/proto/index.js'));
const PushRequest = proto.logproto.PushRequest;

let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    const raw = snappy.uncompress(fs.readFileSync(file));
    const msg = PushRequest.decode(raw);
    const err = PushRequest.verify(msg);
    if (err) throw new Error('verify: ' + err);
    const again = Buffer.from(PushRequest.encode(msg).finish());
    if (!again.equals(Buffer.from(raw))) throw new Error('re-encoding differs: fields not in logproto');
    for (const s of msg.streams) {
      for (const e of s.entries) {
        const ts = BigInt(e.timestamp.seconds.toString()) * 1000000000n + BigInt(e.timestamp.nanos || 0);
        process.stdout.write(JSON.stringify({ labels: s.labels, ts_ns: ts.toString(), line: e.line }) + '\n');
      }
    }
  } catch (e) {
    bad++;
    process.stderr.write(file + ': INVALID: ' + e.message + '\n');
  }
}
process.exit(bad ? 1 : 0);
