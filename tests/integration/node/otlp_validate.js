#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Check OTLP/HTTP JSON bodies with the OpenTelemetry protocol's own message
// definitions, as protobufjs compiles them in @opentelemetry/otlp-transformer
// (opentelemetry-proto): ExportTraceServiceRequest for .../v1/traces,
// ExportLogsServiceRequest for .../v1/logs.
//
//   node otlp_validate.js traces|logs FILE...
//
// OTLP/JSON is proto3's JSON mapping except that trace and span ids are hex
// (the OTLP specification): those are turned into bytes first, and must be 16
// and 8 bytes. Then a round trip through the message (fromObject, encode,
// decode, toObject) must give the object back: a field the definitions do not
// have, a wrong type or an enum out of range does not survive it. (verify()
// is not used: it refuses 64-bit integers as strings, which proto3's JSON
// mapping, and so OTLP/JSON, prescribes.) Prints one JSON summary per body
// ({"file", "resources", "items", "ids"}) and exits 1 if any body fails.
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');

const ROOT = path.resolve(__dirname, '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');
const root = require(path.join(MODULES, '@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const P = root.opentelemetry.proto;

const kind = process.argv[2];
const Msg = kind === 'traces' ? P.collector.trace.v1.ExportTraceServiceRequest
  : kind === 'logs' ? P.collector.logs.v1.ExportLogsServiceRequest : null;
if (!Msg) {
  process.stderr.write('usage: otlp_validate.js traces|logs FILE...\n');
  process.exit(2);
}

// The hex ids of OTLP/JSON, as bytes of the right length.
function ids(o, found) {
  if (Array.isArray(o)) return o.map((v) => ids(v, found));
  if (!o || typeof o !== 'object') return o;
  const out = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'traceId' || k === 'spanId' || k === 'parentSpanId') {
      if (typeof v !== 'string' || !/^[0-9a-f]*$/.test(v)) throw new Error(k + ' not lowercase hex: ' + v);
      const b = Buffer.from(v, 'hex');
      if (b.length !== (k === 'traceId' ? 16 : 8)) throw new Error(k + ' of ' + b.length + ' bytes');
      found.push(v);
      out[k] = b;
    } else {
      out[k] = ids(v, found);
    }
  }
  return out;
}

// proto3 JSON: 64-bit integers may be strings; numbers compare as strings.
function norm(o) {
  if (Buffer.isBuffer(o) || o instanceof Uint8Array) return Buffer.from(o).toString('hex');
  if (Array.isArray(o)) return o.map(norm);
  if (o && typeof o === 'object') {
    const out = {};
    for (const k of Object.keys(o).sort()) {
      if (Array.isArray(o[k]) && !o[k].length) continue; /* proto3 drops empty repeated fields */
      out[k] = norm(o[k]);
    }
    return out;
  }
  return typeof o === 'number' ? String(o) : o;
}

let bad = 0;
for (const file of process.argv.slice(3)) {
  try {
    const found = [];
    const obj = ids(JSON.parse(fs.readFileSync(file, 'utf8')), found);
    const back = Msg.toObject(Msg.decode(Msg.encode(Msg.fromObject(obj)).finish()),
      { longs: String, enums: Number, bytes: Buffer });
    if (!util.isDeepStrictEqual(norm(back), norm(obj)))
      throw new Error('not the same after a round trip through ' + Msg.name +
        ': a field or value the definitions do not have');
    const res = kind === 'traces' ? back.resourceSpans : back.resourceLogs;
    let items = 0;
    for (const r of res) for (const s of (r.scopeSpans || r.scopeLogs)) items += (s.spans || s.logRecords).length;
    process.stdout.write(JSON.stringify({ file, resources: res.length, items, ids: found.length }) + '\n');
  } catch (e) {
    bad++;
    process.stderr.write(file + ': INVALID: ' + e.message + '\n');
  }
}
process.exit(bad ? 1 : 0);
