#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Validate JSON documents against the Zipkin v2 API contract
// (tests/contracts/zipkin2-api.yaml) with ajv, the checker being a standard
// library and the schema upstream's, never a hand-written check.
//
//   node zipkin_validate.js [--contract YAML] [[--def] NAME] FILE... | -
//
// NAME is a definition of the contract: ListOfSpans (default; what POST
// /api/v2/spans takes), Trace or ListOfTraces (what the query API returns),
// or any other; a first argument that names a definition is taken as one.
// "-" reads stdin. One line per document, "FILE: valid (...)" or
// "FILE: INVALID (...)" followed by ajv's errors; exit 1 if any is invalid,
// 2 on a usage error.
//
// Modules come from $NODE_MODULES, else build/node/node_modules (where
// scripts/deps.sh test installs tests/integration/node/package-lock.json).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');

function load(name) {
  try {
    return require(path.join(MODULES, name));
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND')
      throw e;
  }
  try {
    return require(name); /* a local or global install */
  } catch (e) {
    console.error(`zipkin_validate: ${name} not found in ${MODULES} nor on Node's path: ` +
      'run scripts/deps.sh test, or set NODE_MODULES');
    process.exit(2);
  }
}

function usage(msg) {
  if (msg)
    console.error('zipkin_validate: ' + msg);
  console.error('usage: zipkin_validate.js [--contract YAML] [[--def] NAME] FILE... | -');
  process.exit(2);
}

function parseArgs(argv) {
  const a = {
    def: null,
    contract: path.join(ROOT, 'tests/contracts/zipkin2-api.yaml'),
    files: [],
  };

  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--def' || argv[i] === '--contract') {
      if (i + 1 >= argv.length)
        usage(argv[i] + ' needs a value');
      a[argv[i].slice(2)] = argv[++i];
    } else if (argv[i].startsWith('--')) {
      usage('unknown option ' + argv[i]);
    } else {
      a.files.push(argv[i]);
    }
  }
  return a;
}

function readContract(a) {
  const doc = load('js-yaml').load(fs.readFileSync(a.contract, 'utf8'));
  const defs = (doc && doc.definitions) || {};

  if (!a.def && a.files.length > 1 && Object.hasOwn(defs, a.files[0]))
    a.def = a.files.shift();
  a.def = a.def || 'ListOfSpans';
  if (!Object.hasOwn(defs, a.def))
    usage(`no definition "${a.def}" in ${a.contract} (have: ${Object.keys(defs).join(', ')})`);
  if (!a.files.length)
    usage('no file given');
  return doc;
}

// Swagger 2.0 keeps its schemas under definitions and refers to them as
// "#/definitions/X": a root that carries them all resolves every ref.
// strict: false because the contract uses Swagger-only keywords (example).
function compile(doc, def) {
  const Ajv = load('ajv');
  const addFormats = load('ajv-formats');
  const ajv = new (Ajv.default || Ajv)({ strict: false, allErrors: true });
  (addFormats.default || addFormats)(ajv); /* ipv4, ipv6, int64 */
  return ajv.compile({ definitions: doc.definitions, $ref: '#/definitions/' + def });
}

function check(validate, def, name) {
  let text, doc;

  try {
    text = fs.readFileSync(name === '-' ? 0 : name, 'utf8');
    doc = JSON.parse(text);
  } catch (e) {
    console.log(`${name}: INVALID (${e.message.split('\n')[0]})`);
    return false;
  }
  if (validate(doc)) {
    const n = Array.isArray(doc) ? `, ${doc.length} items` : '';
    console.log(`${name}: valid (${def}${n})`);
    return true;
  }
  console.log(`${name}: INVALID (${def}, ${validate.errors.length} error(s))`);
  for (const e of validate.errors)
    console.log(`  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
  return false;
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const validate = compile(readContract(a), a.def);
  let bad = 0;

  for (const f of a.files)
    if (!check(validate, a.def, f))
      bad++;
  process.exit(bad ? 1 : 0);
}

main();
