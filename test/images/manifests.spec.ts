// The Kubernetes manifests under runtime-profiles/agents: every document validates against the
// Kubernetes (and KEDA) schemas, and the objects of each agent type agree with each other and with
// the daemon — the ScaledObject watches the stream and group the daemon reads, the grace period
// outlasts the wall budget, the NetworkPolicy selects the Deployment's pods, and so on.
import fs from 'node:fs';
import path from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_GROUP, DEFAULT_STREAM } from '../../src/protocol/keys.js';
import { REPO } from './helpers/repo.js';

const AGENTS_DIR = path.join(REPO, 'runtime-profiles/agents');
const AGENT_TYPES = ['data-analysis', 'web-research', 'code-review'];
// The capabilities images/README.md documents as needed, no more.
const CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETUID', 'SETGID', 'SETPCAP', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE'];

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'node.k8s.io/v1/RuntimeClass': RuntimeClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

// Loosely typed views of the parsed objects: the schemas above are what check their shape.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

function load(file: string): Obj[] {
  // YAML 1.1, as kubectl reads it.
  const docs = parseAllDocuments(fs.readFileSync(path.join(AGENTS_DIR, file), 'utf8'), { version: '1.1' });
  return docs.map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
}

function only(objs: Obj[], kind: string): Obj {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

describe('Kubernetes manifests', () => {
  const files = fs.readdirSync(AGENTS_DIR).filter((f) => f.endsWith('.yaml'));

  it('has one file per agent type beside common.yaml', () => {
    expect(files.sort()).toEqual(['common.yaml', ...AGENT_TYPES.map((a) => `${a}.yaml`)].sort());
  });

  it.each(files)('%s: every document validates against its schema', (file) => {
    for (const obj of load(file)) {
      const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(model, `a schema for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => new model!(obj as never).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`).not.toThrow();
    }
  });

  it('common.yaml: a gVisor RuntimeClass and a namespace that allows what the executor needs', () => {
    const objs = load('common.yaml');
    const rc = only(objs, 'RuntimeClass');
    expect(rc.metadata.name).toBe('gvisor');
    expect(rc.handler).toBe('runsc');
    expect(only(objs, 'Namespace').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(only(objs, 'TriggerAuthentication').spec.secretTargetRef[0].parameter).toBe('password');
  });

  describe.each(AGENT_TYPES)('%s', (agent) => {
    const objs = load(`${agent}.yaml`);
    const cm = only(objs, 'ConfigMap');
    const deploy = only(objs, 'Deployment');
    const policy = only(objs, 'NetworkPolicy');
    const scaled = only(objs, 'ScaledObject');
    const pdb = only(objs, 'PodDisruptionBudget');
    const pod = deploy.spec.template;
    const container = pod.spec.containers[0];
    const env: Record<string, string> = cm.data;

    it('puts every object in the agent-executor namespace', () => {
      for (const o of objs) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('agent-executor');
    });

    it('runs the Deployment under gVisor and requires it', () => {
      expect(pod.spec.runtimeClassName).toBe('gvisor');
      expect(env.EXECUTOR_REQUIRE_GVISOR).toBe('1');
      expect(matches(deploy.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
      expect(pod.metadata.labels['agent-executor/agent-type']).toBe(agent);
      expect(container.envFrom).toContainEqual({ configMapRef: { name: cm.metadata.name } });
    });

    it('has a tight securityContext: root with exactly the documented capabilities, read-only root', () => {
      const sc = container.securityContext;
      expect(sc.capabilities.drop).toEqual(['ALL']);
      expect([...sc.capabilities.add].sort()).toEqual([...CAPABILITIES].sort());
      expect(sc.privileged).toBe(false);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.runAsUser).toBe(0);
      // The API server refuses allowPrivilegeEscalation: false together with CAP_SYS_ADMIN.
      expect(sc.allowPrivilegeEscalation).not.toBe(false);
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      expect(pod.spec.hostNetwork ?? false).toBe(false);
      expect(pod.spec.hostPID ?? false).toBe(false);
    });

    it('mounts a size-limited writable volume on every place the daemon and snippets write', () => {
      const mounts = new Map<string, string>(container.volumeMounts.map((m: any) => [m.mountPath, m.name]));
      for (const place of ['/var/lib/agent-executor', '/tmp', '/var/tmp', '/run']) {
        const name = mounts.get(place);
        expect(name, `a volume on ${place}`).toBeDefined();
        const volume = pod.spec.volumes.find((v: any) => v.name === name);
        expect(volume.emptyDir?.sizeLimit, `sizeLimit of the volume on ${place}`).toBeTruthy();
      }
      const secret = pod.spec.volumes.find((v: any) => v.secret);
      expect(secret.secret.defaultMode).toBe(0o400);
      expect(container.env).toContainEqual({ name: 'REDIS_URL_FILE', value: `${container.volumeMounts.find((m: any) => m.name === secret.name).mountPath}/url` });
      expect(container.env.find((e: any) => e.name === 'REDIS_URL')).toBeUndefined();
    });

    it('gives the container more memory than a run may use', () => {
      expect(toBytes(container.resources.limits.memory)).toBeGreaterThan(Number(env.EXECUTOR_MEMORY_BYTES) + 256 * 1024 ** 2);
    });

    it('grants a termination grace longer than the wall budget, with room for the kill and the sweep', () => {
      // Drain: the run in hand may use its whole wall budget; then the kill grace, the sweep
      // (which waits up to 10 s under gVisor) and writing the result.
      expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(Number(env.EXECUTOR_WALL_MS) + 30_000);
    });

    it('probes liveness and readiness on the daemon\'s HTTP port', () => {
      const port = container.ports.find((p: any) => p.name === 'http');
      expect(String(port.containerPort)).toBe(env.EXECUTOR_HTTP_PORT);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    });

    it('fences the pods of this agent type: ingress to /metrics only, Redis and DNS always, more only where snippets get network', () => {
      expect(policy.spec.podSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      for (const rule of policy.spec.ingress) {
        expect(rule.ports).toEqual([{ protocol: 'TCP', port: Number(env.EXECUTOR_HTTP_PORT) }]);
        for (const from of rule.from) expect(from.ipBlock, 'no ingress from addresses').toBeUndefined();
      }
      const egress: any[] = policy.spec.egress;
      expect(egress.some((r) => r.to.some((t: any) => t.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'redis'))).toBe(true);
      const outside = egress.filter((r) => r.to.some((t: any) => t.ipBlock));
      if (env.EXECUTOR_NETWORK === 'none') {
        expect(outside).toEqual([]);
      } else {
        expect(env.EXECUTOR_NETWORK).toBe('allow');
        expect(outside.length).toBeGreaterThan(0);
        for (const rule of outside) {
          for (const { ipBlock } of rule.to) {
            // No route to the metadata server or the cluster's private ranges.
            if (ipBlock.cidr === '0.0.0.0/0') expect(ipBlock.except).toEqual(expect.arrayContaining(['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']));
            if (ipBlock.cidr === '::/0') expect(ipBlock.except).toEqual(expect.arrayContaining(['fc00::/7', 'fe80::/10']));
          }
        }
      }
    });

    it('scales on the backlog of the stream and group the daemon reads', () => {
      expect(scaled.spec.scaleTargetRef.name).toBe(deploy.metadata.name);
      const trigger = scaled.spec.triggers[0];
      expect(trigger.type).toBe('redis-streams');
      expect(trigger.metadata.stream).toBe(env.EXECUTOR_STREAM ?? DEFAULT_STREAM);
      expect(trigger.metadata.consumerGroup).toBe(env.EXECUTOR_GROUP ?? DEFAULT_GROUP);
      expect(trigger.metadata.stream).toBe(DEFAULT_STREAM);
      expect(trigger.metadata.consumerGroup).toBe(DEFAULT_GROUP);
      expect(Number(trigger.metadata.lagCount)).toBeGreaterThan(0);
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(trigger.authenticationRef.name).toBe(only(load('common.yaml'), 'TriggerAuthentication').metadata.name);
    });

    it('protects the pods with a PodDisruptionBudget', () => {
      expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable).toBe(1);
    });
  });

  it('gives every agent type its own Redis database, so no executor takes another type\'s task', () => {
    const dbs = AGENT_TYPES.map((a) => only(load(`${a}.yaml`), 'ScaledObject').spec.triggers[0].metadata.databaseIndex);
    expect(new Set(dbs).size).toBe(AGENT_TYPES.length);
    const keys = AGENT_TYPES.map((a) => only(load(`${a}.yaml`), 'Deployment').spec.template.spec.volumes.find((v: any) => v.secret).secret.items[0].key);
    expect(keys).toEqual(AGENT_TYPES.map((a) => `${a}-url`));
  });
});

function toBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new Error(`unsupported quantity ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * unit;
}
