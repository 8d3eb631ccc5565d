#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Validate Compose files against the Compose Specification's JSON schema with
// a standard validator: ajv, and the schema as the npm package dclint ships it
// (schemas/compose.schema.json, the compose-spec project's compose-spec.json),
// never a hand check. Docker itself is not needed.
//
//   node compose_validate.mjs FILE.yaml...
//
// Prints "FILE: valid" or "FILE: INVALID: ..." (every error ajv found), then
// one JSON line {"schema": {...}, "files": {FILE: document}} for the caller's
// own assertions (what the file says, not whether it is well-formed); exits 1
// if any file is invalid.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');
const require = createRequire(path.join(MODULES, 'x.js'));
const yaml = require('js-yaml');
const Ajv = require('ajv').default;

const schemaFile = path.join(MODULES, 'dclint/schemas/compose.schema.json');
const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
const dclint = JSON.parse(fs.readFileSync(path.join(MODULES, 'dclint/package.json'), 'utf8'));
// The schema is draft-07 with the spec's own annotations ("deprecated"):
// strict mode off for unknown keywords, union types as the spec writes them.
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
// It names draft-07 by https://json-schema.org/draft-07/schema, the address the
// draft's own $id gives with http: ajv's copy of the meta-schema under that
// name, so that the schema itself is checked as a draft-07 schema first.
const meta = JSON.parse(JSON.stringify(require('ajv/dist/refs/json-schema-draft-07.json')));
meta.$id = schema.$schema;
ajv.addMetaSchema(meta);
const validate = ajv.compile(schema);

let bad = 0;
const files = {};
for (const file of process.argv.slice(2)) {
  let doc;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    bad++;
    console.log(`${file}: INVALID: not YAML: ${e.message.split('\n')[0]}`);
    continue;
  }
  if (validate(doc)) {
    console.log(`${file}: valid`);
    files[file] = doc;
  } else {
    bad++;
    const errs = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}` +
      (e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''));
    console.log(`${file}: INVALID: ${errs.join('; ').slice(0, 1000)}`);
  }
}
console.log(JSON.stringify({
  schema: { package: `dclint@${dclint.version}`, file: 'schemas/compose.schema.json',
            id: schema.$id, title: schema.title, draft: schema.$schema },
  files,
}));
process.exit(bad ? 1 : 0);
