#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Validate Kubernetes manifests against the Kubernetes OpenAPI schemas with a
// standard library: kubernetes-models (its models and validators are generated
// from the OpenAPI specification of a Kubernetes release), never a hand check.
//
//   node k8s_validate.mjs FILE.yaml...
//
// Every YAML document must name an apiVersion and kind the library has; each
// is validated by its model. Prints "KIND NAME: valid" per document, then one
// JSON line {"kinds": {...}, "docs": [...]} for the caller's own assertions
// (what the manifests say, not whether they are well-formed); exits 1 if any
// document is invalid or unknown.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const MODULES = process.env.NODE_MODULES || path.join(ROOT, 'build/node/node_modules');
const require = createRequire(path.join(MODULES, 'x.js'));
const yaml = require('js-yaml');

// apiVersion -> the kubernetes-models module that holds its kinds.
const groups = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
};

let bad = 0;
const docs = [];
const kinds = {};
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8'))) {
    if (!doc) continue;
    const where = `${file}: ${doc.kind} ${doc.metadata && doc.metadata.name}`;
    const mod = groups[doc.apiVersion];
    try {
      if (!mod) throw new Error(`apiVersion ${doc.apiVersion} not checked here`);
      const url = 'file://' + path.join(MODULES, mod, 'index.js');
      const models = await import(url);
      const Model = models[doc.kind];
      if (!Model) throw new Error(`no kind ${doc.kind} in ${doc.apiVersion}`);
      new Model(doc).validate();
      console.log(`${where}: valid`);
      kinds[doc.kind] = (kinds[doc.kind] || 0) + 1;
      docs.push(doc);
    } catch (e) {
      bad++;
      console.log(`${where}: INVALID: ${e.message.slice(0, 500)}`);
    }
  }
}
console.log(JSON.stringify({ kinds, docs }));
process.exit(bad ? 1 : 0);
