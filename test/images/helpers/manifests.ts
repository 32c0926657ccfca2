// Reading the manifests under runtime-profiles/agents, and the small pieces of Kubernetes and Redis
// semantics the manifest tests need to reason about them: quantities, label selectors, CIDRs,
// Redis Cluster hash tags, ACL key patterns, and the JSON schema of a CRD vendored in schemas/.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { REPO } from './repo.js';

export const AGENTS_DIR = path.join(REPO, 'runtime-profiles/agents');

// Loosely typed views of the parsed objects: the schemas are what check their shape.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

export function readAgentsFile(file: string): string {
  return fs.readFileSync(path.join(AGENTS_DIR, file), 'utf8');
}

export function load(file: string): Obj[] {
  // YAML 1.1, as kubectl reads it.
  const docs = parseAllDocuments(readAgentsFile(file), { version: '1.1' });
  return docs.map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
}

/** Whether a matchLabels selector selects an object with these labels. */
export function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** Bytes of a Kubernetes quantity in the binary units the manifests use. */
export function toBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new Error(`unsupported quantity ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * unit;
}

function ipv4(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Whether an IPv4 CIDR contains an address (IPv6 CIDRs contain no IPv4 address). */
export function cidrContains(cidr: string, address: string): boolean {
  if (cidr.includes(':')) return false;
  const [base, bits] = cidr.split('/');
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((ipv4(base!) & mask) >>> 0) === ((ipv4(address) & mask) >>> 0);
}

/** Whether a NetworkPolicy's egress rules let its pods reach address:port over TCP. */
export function egressAllows(policy: Obj, address: string, port: number): boolean {
  return (policy.spec.egress ?? []).some((rule: any) => {
    const portOk = !rule.ports || rule.ports.some((p: any) => (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || (p.port <= port && port <= (p.endPort ?? p.port))));
    const toOk = !rule.to || rule.to.some((t: any) => t.ipBlock && cidrContains(t.ipBlock.cidr, address) && !(t.ipBlock.except ?? []).some((e: string) => cidrContains(e, address)));
    return portOk && toOk;
  });
}

/** The part of a key Redis Cluster hashes: the first non-empty `{...}`, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** A Redis ACL key pattern (glob: `*`, `?`, literal everything else) as a matcher. */
export function aclPattern(glob: string): (key: string) => boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (key) => re.test(key);
}

export interface AclUser {
  name: string;
  /** Key patterns as written, with their permission: `~p` (read and write), `%R~p`, `%W~p`. */
  keys: { pattern: string; read: boolean; write: boolean }[];
  /** Commands (lower case, `cmd` or `cmd|sub`) added with `+`. */
  allowed: string[];
  rules: string[];
}

/** The `ACL SETUSER` lines of a document. */
export function parseAclUsers(text: string): Map<string, AclUser> {
  const users = new Map<string, AclUser>();
  for (const line of text.split('\n')) {
    const m = /^\s*ACL SETUSER (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const rules = m[2]!.trim().split(/\s+/);
    const keys = rules.flatMap((r) => {
      const k = /^(?:%(R|W|RW)~|~)(.+)$/.exec(r);
      if (!k) return [];
      const perm = k[1] ?? 'RW';
      return [{ pattern: k[2]!, read: perm.includes('R'), write: perm.includes('W') }];
    });
    const allowed = rules.filter((r) => r.startsWith('+')).map((r) => r.slice(1).toLowerCase());
    users.set(m[1]!, { name: m[1]!, keys, allowed, rules });
  }
  return users;
}

// A CRD schema validates as the API server does with kubectl's strict field validation: an
// unknown field is an error, except where the schema keeps unknown fields on purpose.
function strictFields(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strictFields);
  if (!schema || typeof schema !== 'object') return schema;
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strictFields(s)])) : strictFields(v);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/**
 * A validator from a CRD's openAPIV3Schema vendored under test/images/schemas. The CEL rules
 * (x-kubernetes-validations) are the API server's and are not evaluated here.
 */
export function crdValidator(file: string): (obj: unknown) => string | undefined {
  const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'test/images/schemas', file), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(strictFields(schema));
  return (obj) => (validate(obj) ? undefined : ajv.errorsText(validate.errors));
}
