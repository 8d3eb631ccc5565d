#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Decode Loki push bodies (POST /loki/api/v1/push) with standard libraries,
// never a hand-written decoder:
//   FILE.pb       Content-Type application/x-protobuf: a snappy-compressed
//                 logproto.PushRequest: snappyjs for the block format, and
//                 protobufjs with Loki's own logproto definitions (the module
//                 winston-loki generates from Loki's logproto.proto);
//   FILE.json.gz  Content-Type application/json, Content-Encoding gzip: Node's
//                 zlib, then ajv against loki_push.schema.json (the JSON form
//                 of Loki's HTTP API reference); its streams are then made a
//                 logproto.PushRequest (labels in LogQL form) that must pass
//                 PushRequest.verify and survive an encode/decode round trip.
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
const zlib = require('zlib');
const Ajv = require(path.join(MODULES, 'ajv'));
const validate = new Ajv({ allErrors: true, strictTuples: false })
  .compile(JSON.parse(fs.readFileSync(path.join(__dirname, 'loki_push.schema.json'))));

// The JSON form's streams as the PushRequest Loki's distributor makes of them.
function fromJson(body) {
  if (!validate(body)) throw new Error('schema: ' + JSON.stringify(validate.errors.slice(0, 3)));
  const quote = (v) => '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  return PushRequest.fromObject({
    streams: body.streams.map((s) => ({
      labels: '{' + Object.entries(s.stream).map(([k, v]) => k + '=' + quote(v)).join(', ') + '}',
      entries: s.values.map((v) => {
        const ns = BigInt(v[0]);
        return { timestamp: { seconds: (ns / 1000000000n).toString(), nanos: Number(ns % 1000000000n) }, line: v[1] };
      }),
    })),
  });
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    let msg, raw;
    if (file.endsWith('.json.gz')) {
      const m = fromJson(JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8')));
      raw = Buffer.from(PushRequest.encode(m).finish());
    } else {
      raw = snappy.uncompress(fs.readFileSync(file));
    }
    msg = PushRequest.decode(raw);
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
