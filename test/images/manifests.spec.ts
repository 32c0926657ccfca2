// The Kubernetes manifests under runtime-profiles/agents: every document validates against the
// Kubernetes, KEDA and monitoring schemas, and the objects of each agent type agree with each other,
// with the daemon and with the docs — the pool is Jobs that are never restarted in place, the
// triggers watch the stream and group the daemon reads, the volumes fit in the pod's disk, the
// grace period outlasts the drain, each type's keys share one hash tag and one ACL pattern, only
// data-analysis reaches the metadata server, and so on.
import fs from 'node:fs';
import path from 'node:path';
import { ScaledJob } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledJob';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { AGENTS_DIR, type Obj, aclPattern, crdValidator, egressAllows, hashTag, load, matches, parseAclUsers, readAgentsFile, toBytes } from './helpers/manifests.js';
import { REPO } from './helpers/repo.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const AGENT_TYPES = ['data-analysis', 'web-research', 'code-review'];
const SHARED_FILES = ['common.yaml', 'runtimeclass-gvisor.yaml', 'redis.yaml', 'podmonitoring.yaml', 'podmonitor.yaml'];
// The capabilities images/README.md documents as needed, no more.
const CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETUID', 'SETGID', 'SETPCAP', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE'];
// Room in the ephemeral-storage limit beside the volumes: the container's logs (the kubelet keeps
// up to 5 files of 10 MiB by default) and its writable layer (the root file system is read-only).
const EPHEMERAL_HEADROOM = 128 * 1024 ** 2;
// After the drain deadline the daemon aborts the run, kills and sweeps it (the sweep waits up to
// 10 s under gVisor), writes the result and closes Redis: the grace period must cover that too.
const GRACE_MARGIN_MS = 20_000;
// Defaults of the daemon's options the drain deadline is computed from (src/config/options.ts).
const DEFAULT_KILL_GRACE_MS = 200;
// The metadata server: what a pod connects to, and where the iptables dataplane has redirected it.
const METADATA = [{ address: '169.254.169.254', port: 80 }, { address: '169.254.169.252', port: 988 }];
// The Redis commands the daemon sends (src/queue, src/daemon; XGROUP DELCONSUMER and XINFO
// CONSUMERS for removing consumers of Jobs that are gone), and those ioredis sends on connect.
// Sessions add their record and index (HSET, HGET, HGETALL, ZADD, ZREM, ZRANGE, EXISTS, DEL, in
// scripts or not) and XCLAIM, with which a holder gives back a task it will not run.
const EXECUTOR_COMMANDS = ['xreadgroup', 'xautoclaim', 'xpending', 'xack', 'xadd', 'xread', 'xgroup|create', 'xgroup|delconsumer', 'xinfo|consumers', 'eval', 'get', 'set', 'expire', 'client|id', 'client|unblock', 'client|setname', 'info', 'ping', 'hset', 'hget', 'hgetall', 'zadd', 'zrem', 'zrange', 'exists', 'del', 'xclaim'];
// What KEDA's redis-streams scaler needs, and nothing that writes.
const KEDA_COMMANDS = new Set(['info', 'ping', 'hello', 'client|setname', 'cluster|slots', 'xinfo|groups', 'xpending', 'xlen']);

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'node.k8s.io/v1/RuntimeClass': RuntimeClass,
  'keda.sh/v1alpha1/ScaledJob': ScaledJob,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};
// No npm package publishes GMP's PodMonitoring: its CRD schema is vendored (source named in the file).
const CRD_VALIDATORS: Record<string, (obj: unknown) => string | undefined> = {
  'monitoring.googleapis.com/v1/PodMonitoring': crdValidator('monitoring.googleapis.com_v1_PodMonitoring.json'),
};

function validationError(obj: Obj): string | undefined {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const crd = CRD_VALIDATORS[key];
  if (crd) return crd(obj);
  const model = MODELS[key];
  if (!model) return `no schema for ${key}`;
  try {
    new model(obj as never).validate();
    // KEDA's CRD keeps the Job spec loose; check it against the Kubernetes Job schema as well.
    if (obj.kind === 'ScaledJob') new Job({ metadata: { name: obj.metadata.name }, spec: obj.spec.jobTargetRef } as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function only(objs: Obj[], kind: string): Obj {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
}

/** The drain deadline of `agent-executor serve` (src/cli/serve.ts) under these settings. */
function drainDeadlineMs(env: Record<string, string>): number {
  const set = Number(env.EXECUTOR_DRAIN_TIMEOUT_MS ?? 0);
  return set || Number(env.EXECUTOR_WALL_MS) + Number(env.EXECUTOR_KILL_GRACE_MS ?? DEFAULT_KILL_GRACE_MS) + 10_000;
}

/** A container port by name or number. */
function containerPort(container: any, port: string | number): number | undefined {
  return container.ports.find((p: any) => p.name === port || p.containerPort === port)?.containerPort;
}

const imagesReadme = fs.readFileSync(path.join(REPO, 'images/README.md'), 'utf8');

describe('Kubernetes manifests', () => {
  const files = fs.readdirSync(AGENTS_DIR).filter((f) => f.endsWith('.yaml'));

  it('has one file per agent type beside the shared ones', () => {
    expect([...files].sort()).toEqual([...SHARED_FILES, ...AGENT_TYPES.map((a) => `${a}.yaml`)].sort());
  });

  it.each(files)('%s: every document validates against its schema', (file) => {
    for (const obj of load(file)) expect(validationError(obj), `${file}: ${obj.kind} ${obj.metadata.name}`).toBeUndefined();
  });

  it('the schemas catch a misspelt field (the validation above can fail)', () => {
    const [scaled] = load('code-review.yaml').filter((o) => o.kind === 'ScaledJob');
    const typo = structuredClone(scaled!);
    typo.spec.jobTargetRef.template.spec.restartPolicy = 'Sometimes';
    expect(validationError(typo)).toBeDefined();
    const monitoring = structuredClone(only(load('podmonitoring.yaml'), 'PodMonitoring'));
    monitoring.spec.endpoint = monitoring.spec.endpoints;
    expect(validationError(monitoring)).toBeDefined();
  });

  it('common.yaml applies on GKE Sandbox: no RuntimeClass (GKE owns `gvisor`, its handler is immutable)', () => {
    const objs = load('common.yaml');
    expect(objs.filter((o) => o.kind === 'RuntimeClass')).toEqual([]);
    expect(only(objs, 'Namespace').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
    const params = only(objs, 'TriggerAuthentication').spec.secretTargetRef.map((r: any) => r.parameter);
    expect(params.sort()).toEqual(['password', 'username']);
  });

  it('runtimeclass-gvisor.yaml: a runsc RuntimeClass named as the pods expect, scheduling onto tainted gVisor nodes', () => {
    const rc = only(load('runtimeclass-gvisor.yaml'), 'RuntimeClass');
    expect(rc.metadata.name).toBe('gvisor');
    expect(rc.handler).toBe('runsc');
    const [key, value] = Object.entries(rc.scheduling.nodeSelector as Record<string, string>)[0]!;
    expect(rc.scheduling.tolerations).toContainEqual({ key, operator: 'Equal', value, effect: 'NoSchedule' });
  });

  it('no Redis URL or address anywhere names a database index (Redis Cluster has database 0 only)', () => {
    const texts = [...files.map((f) => [f, readAgentsFile(f)]), ['images/README.md', imagesReadme]];
    for (const [name, text] of texts) {
      expect(text!.match(/rediss?:\/\/[^\s'"`]*\/\d+/g), `${name}: a redis URL with a database`).toBeNull();
      expect(text!.match(/databaseIndex/g), `${name}: databaseIndex`).toBeNull();
    }
  });

  describe.each(AGENT_TYPES)('%s', (agent) => {
    const objs = load(`${agent}.yaml`);
    const cm = only(objs, 'ConfigMap');
    const sa = only(objs, 'ServiceAccount');
    const scaled = only(objs, 'ScaledJob');
    const policy = only(objs, 'NetworkPolicy');
    const job = scaled.spec.jobTargetRef;
    const pod = job.template;
    const container = pod.spec.containers[0];
    const env: Record<string, string> = cm.data;

    it('has a ConfigMap, a ServiceAccount, a ScaledJob and a NetworkPolicy, all in the agent-executor namespace', () => {
      expect(objs.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'NetworkPolicy', 'ScaledJob', 'ServiceAccount']);
      for (const o of objs) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('agent-executor');
    });

    it('runs every executor under gVisor and requires it', () => {
      expect(pod.spec.runtimeClassName).toBe('gvisor');
      expect(env.EXECUTOR_REQUIRE_GVISOR).toBe('1');
      expect(pod.metadata.labels['agent-executor/agent-type']).toBe(agent);
      expect(pod.metadata.labels['app.kubernetes.io/component']).toBe('executor');
      expect(container.envFrom).toContainEqual({ configMapRef: { name: cm.metadata.name } });
    });

    it('is a pool of Jobs: one executor each, never restarted or retried in place, finished Jobs bounded', () => {
      expect(pod.spec.restartPolicy).toBe('Never');
      expect(job.parallelism).toBe(1);
      expect(job.completions).toBe(1);
      // A failed executor (exit 3: a dirty sandbox) fails its Job; KEDA starts a new one.
      expect(job.backoffLimit).toBe(0);
      expect(job.podFailurePolicy.rules).toContainEqual(expect.objectContaining({ action: 'FailJob', onExitCodes: { containerName: container.name, operator: 'In', values: [3] } }));
      expect(scaled.spec.successfulJobsHistoryLimit).toBeGreaterThanOrEqual(1);
      expect(scaled.spec.successfulJobsHistoryLimit).toBeLessThanOrEqual(20);
      expect(scaled.spec.failedJobsHistoryLimit).toBeGreaterThanOrEqual(scaled.spec.successfulJobsHistoryLimit);
      expect(scaled.spec.failedJobsHistoryLimit).toBeLessThanOrEqual(50);
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec.maxReplicaCount).toBeGreaterThan(scaled.spec.minReplicaCount);
      // A changed spec must not delete every running executor at once.
      expect(scaled.spec.rollout?.strategy).toBe('gradual');
    });

    it('recycles on runs and age with jitter, and names each consumer after its (new) pod', () => {
      expect(Number(env.EXECUTOR_MAX_RUNS)).toBeGreaterThanOrEqual(1);
      expect(Number(env.EXECUTOR_MAX_AGE_S)).toBeGreaterThanOrEqual(60);
      const jitter = Number(env.EXECUTOR_RECYCLE_JITTER);
      expect(jitter).toBeGreaterThan(0);
      expect(jitter).toBeLessThan(1);
      expect(container.env).toContainEqual({ name: 'EXECUTOR_CONSUMER', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
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
      expect(pod.spec.hostNetwork ?? false).toBe(false);
      expect(pod.spec.hostPID ?? false).toBe(false);
    });

    it('runs under its own ServiceAccount, with no token mounted', () => {
      expect(sa.metadata.name).toBe(`executor-${agent}`);
      expect(pod.spec.serviceAccountName).toBe(sa.metadata.name);
      expect(sa.automountServiceAccountToken).toBe(false);
      expect(pod.spec.automountServiceAccountToken).toBe(false);
    });

    it('has a cloud identity (Workload Identity) and a route to the metadata server only if it is data-analysis', () => {
      const identity = sa.metadata.annotations?.['iam.gke.io/gcp-service-account'];
      const reachesMetadata = METADATA.map(({ address, port }) => egressAllows(policy, address, port));
      if (agent === 'data-analysis') {
        expect(identity).toMatch(new RegExp(`^executor-${agent}@[^@]+\\.iam\\.gserviceaccount\\.com$`));
        expect(reachesMetadata).toEqual([true, true]);
        // The credentials are for snippets (Application Default Credentials): they need the network.
        expect(env.EXECUTOR_NETWORK).toBe('allow');
      } else {
        expect(identity).toBeUndefined();
        expect(reachesMetadata).toEqual([false, false]);
      }
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
      expect(secret.secret.items).toEqual([{ key: `${agent}-url`, path: 'url' }]);
      expect(container.env).toContainEqual({ name: 'REDIS_URL_FILE', value: `${container.volumeMounts.find((m: any) => m.name === secret.name).mountPath}/url` });
      expect(container.env.find((e: any) => e.name === 'REDIS_URL')).toBeUndefined();
    });

    it("fits its disk volumes, with room for logs, inside the ephemeral-storage limit (a volume's own limit is met first, never the pod's)", () => {
      const disk = pod.spec.volumes.filter((v: any) => v.emptyDir && v.emptyDir.medium !== 'Memory');
      const sum = disk.reduce((n: number, v: any) => n + toBytes(v.emptyDir.sizeLimit), 0);
      const { requests, limits } = container.resources;
      expect(sum + EPHEMERAL_HEADROOM).toBeLessThanOrEqual(toBytes(limits['ephemeral-storage']));
      expect(toBytes(requests['ephemeral-storage'])).toBeLessThanOrEqual(toBytes(limits['ephemeral-storage']));
      // The daemon's per-run tmpfs over /tmp must fit in the volume under it.
      const tmp = pod.spec.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === '/tmp').name);
      expect(Number(env.EXECUTOR_TMP_BYTES)).toBeLessThanOrEqual(toBytes(tmp.emptyDir.sizeLimit));
    });

    it('gives the container more memory than a run may use', () => {
      expect(toBytes(container.resources.limits.memory)).toBeGreaterThan(Number(env.EXECUTOR_MEMORY_BYTES) + 256 * 1024 ** 2);
    });

    it('requests memory for a run, the daemon at its peak and the standbys waiting beside it', () => {
      // Measured (README, "Performance"): daemon peak RSS 163 MiB under gVisor; waiting standbys, at
      // most one per runtime at a time with two slots, node 40.1 + python 9.4 + bash ~2 MiB RSS.
      const daemonPeak = 170 * 1024 ** 2;
      const standbys = 56 * 1024 ** 2;
      expect(toBytes(container.resources.requests.memory)).toBeGreaterThanOrEqual(Number(env.EXECUTOR_MEMORY_BYTES) + daemonPeak + standbys);
    });

    it('grants a termination grace above the drain deadline, and a Job deadline above the maximum age', () => {
      const drainMs = drainDeadlineMs(env);
      expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(drainMs + GRACE_MARGIN_MS);
      // The Job's deadline counts from its start (scheduling and the image pull too: 5 min of room),
      // and a pod replaced after a disruption (the DisruptionTarget rule keeps the Job) starts its
      // own age then: room for two whole lives, so a replacement is never cut short mid-life.
      expect(job.activeDeadlineSeconds * 1000).toBeGreaterThanOrEqual(2 * (Number(env.EXECUTOR_MAX_AGE_S) * 1000 + drainMs) + 300_000);
    });

    it("probes liveness and readiness on the daemon's HTTP port", () => {
      expect(String(containerPort(container, 'http'))).toBe(env.EXECUTOR_HTTP_PORT);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    });

    it("keeps all of the type's keys under one prefix whose hash tag is the stream's", () => {
      const prefix = env.EXECUTOR_KEY_PREFIX!;
      expect(prefix).toBe(`executor:{${agent}}:`);
      expect(env.EXECUTOR_STREAM).toBe(`${prefix}tasks`);
      expect(env.EXECUTOR_GROUP).toBe('executors');
      // Task stream, control stream, results, answered markers, claims and dead letters in one slot.
      const keys = [env.EXECUTOR_STREAM!, `${env.EXECUTOR_STREAM}:control`, `${prefix}results:t1`, `${prefix}answered:t1`, `${prefix}claim:t1`, `${prefix}written:t1`, env.EXECUTOR_DEAD_STREAM ?? `${prefix}dead`];
      for (const key of keys) {
        expect(key.startsWith(prefix), key).toBe(true);
        expect(hashTag(key), key).toBe(agent);
      }
    });

    it('scales on the lag plus the pending entries of exactly the stream and group the daemon reads', () => {
      const triggers: any[] = scaled.spec.triggers;
      expect(triggers).toHaveLength(2);
      for (const t of triggers) {
        // redis-cluster-streams (with `addresses`) is the same trigger for a Redis Cluster.
        expect(t.type).toMatch(/^redis(-cluster)?-streams$/);
        expect(t.metadata.stream).toBe(env.EXECUTOR_STREAM);
        expect(t.metadata.consumerGroup).toBe(env.EXECUTOR_GROUP);
        expect(t.metadata.databaseIndex).toBeUndefined();
        expect(t.authenticationRef.name).toBe(only(load('common.yaml'), 'TriggerAuthentication').metadata.name);
      }
      // One entry per executor: an executor runs one task at a time, however many over its life.
      const lag = triggers.find((t) => t.metadata.lagCount !== undefined);
      const pending = triggers.find((t) => t.metadata.pendingEntriesCount !== undefined && t.metadata.lagCount === undefined);
      expect(lag?.metadata.lagCount).toBe('1');
      expect(lag?.metadata.activationLagCount).toBe('0');
      expect(pending?.metadata.pendingEntriesCount).toBe('1');
      expect(scaled.spec.scalingStrategy).toEqual({ strategy: 'default', multipleScalersCalculation: 'sum' });
    });

    it('fences the Job pods: ingress to /metrics from the scrapers only, Redis and DNS always, more only where snippets get network', () => {
      expect(matches(policy.spec.podSelector.matchLabels, pod.metadata.labels)).toBe(true);
      expect(policy.spec.podSelector.matchLabels['agent-executor/agent-type']).toBe(agent);
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      const port = Number(env.EXECUTOR_HTTP_PORT);
      for (const rule of policy.spec.ingress) {
        expect(rule.ports).toEqual([{ protocol: 'TCP', port }]);
        for (const from of rule.from) expect(from.ipBlock, 'no ingress from addresses').toBeUndefined();
      }
      const scrapers = policy.spec.ingress.flatMap((r: any) => r.from.map((f: any) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']));
      expect(scrapers).toContain('gmp-system');
      const egress: any[] = policy.spec.egress;
      expect(egress.some((r) => r.to.some((t: any) => t.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'redis'))).toBe(true);
      const outside = egress.filter((r) => r.to.some((t: any) => t.ipBlock));
      if (env.EXECUTOR_NETWORK === 'none') {
        expect(outside).toEqual([]);
      } else {
        expect(env.EXECUTOR_NETWORK).toBe('allow');
        expect(outside.length).toBeGreaterThan(0);
        // No route to the cluster's private ranges.
        for (const address of ['10.0.0.1', '172.16.0.1', '192.168.0.1']) expect(egressAllows(policy, address, 443), address).toBe(false);
      }
    });

    it('names an image that images/README.md documents', () => {
      expect(imagesReadme).toContain(container.image);
    });
  });

  it('gives every agent type its own stream, prefix and ServiceAccount', () => {
    const envs = AGENT_TYPES.map((a) => only(load(`${a}.yaml`), 'ConfigMap').data);
    for (const name of ['EXECUTOR_STREAM', 'EXECUTOR_KEY_PREFIX']) expect(new Set(envs.map((e) => e[name])).size, name).toBe(AGENT_TYPES.length);
    expect(new Set(AGENT_TYPES.map((a) => only(load(`${a}.yaml`), 'ServiceAccount').metadata.name)).size).toBe(AGENT_TYPES.length);
  });

  describe('monitoring', () => {
    const monitors = [
      { file: 'podmonitoring.yaml', kind: 'PodMonitoring', endpoints: 'endpoints' },
      { file: 'podmonitor.yaml', kind: 'PodMonitor', endpoints: 'podMetricsEndpoints' },
    ];
    it.each(monitors)('$kind scrapes /metrics of every agent type on the port its ConfigMap says', ({ file, kind, endpoints }) => {
      const monitor = only(load(file), kind);
      expect(monitor.metadata.namespace).toBe('agent-executor');
      for (const agent of AGENT_TYPES) {
        const objs = load(`${agent}.yaml`);
        const pod = only(objs, 'ScaledJob').spec.jobTargetRef.template;
        expect(matches(monitor.spec.selector.matchLabels, pod.metadata.labels), agent).toBe(true);
        const [endpoint] = monitor.spec[endpoints];
        expect(endpoint.path).toBe('/metrics');
        expect(String(containerPort(pod.spec.containers[0], endpoint.port)), agent).toBe(only(objs, 'ConfigMap').data.EXECUTOR_HTTP_PORT);
      }
    });
  });

  describe('Redis', () => {
    const redisPolicy = only(load('redis.yaml'), 'NetworkPolicy');
    const froms: any[] = redisPolicy.spec.ingress.flatMap((r: any) => r.from);

    it('has a NetworkPolicy of its own: only the executors, labelled controllers and KEDA reach it, on 6379', () => {
      expect(redisPolicy.spec.policyTypes).toContain('Ingress');
      for (const rule of redisPolicy.spec.ingress) expect(rule.ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
      for (const from of froms) expect(from.ipBlock, 'no ingress from addresses').toBeUndefined();
      for (const agent of AGENT_TYPES) {
        const objs = load(`${agent}.yaml`);
        const labels = only(objs, 'ScaledJob').spec.jobTargetRef.template.metadata.labels;
        // Same-namespace peers (no namespaceSelector) that select the executor pods.
        expect(froms.some((f) => !f.namespaceSelector && matches(f.podSelector?.matchLabels, labels)), agent).toBe(true);
        // And the executors' egress names the pods this policy protects.
        const egress = only(objs, 'NetworkPolicy').spec.egress.flatMap((r: any) => r.to).filter((t: any) => t.podSelector);
        expect(egress.some((t: any) => matches(t.podSelector.matchLabels, redisPolicy.spec.podSelector.matchLabels)), agent).toBe(true);
      }
      expect(froms.some((f) => f.podSelector?.matchLabels?.['agent-executor/role'] === 'controller')).toBe(true);
      expect(froms.some((f) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'keda')).toBe(true);
      // Nothing selects every pod of every namespace.
      for (const from of froms) expect(Object.keys(from.podSelector?.matchLabels ?? {}).length, JSON.stringify(from)).toBeGreaterThan(0);
    });

    const users = parseAclUsers(imagesReadme);
    const keysOf = (agent: string) => {
      const prefix = `executor:{${agent}}:`;
      return { tasks: `${prefix}tasks`, control: `${prefix}tasks:control`, results: `${prefix}results:t1`, answered: `${prefix}answered:t1`, claim: `${prefix}claim:t1`, written: `${prefix}written:t1`, dead: `${prefix}dead`, session: `${prefix}session:{s1}`, cells: `${prefix}session:{s1}:cells`, lease: `${prefix}session:{s1}:lease`, sessions: `${prefix}sessions` };
    };

    it.each(AGENT_TYPES)("documents an ACL for %s's executors: every key of its own, none of another type's, only the commands it sends", (agent) => {
      const user = users.get(`executor-${agent}`);
      expect(user, `ACL SETUSER executor-${agent}`).toBeDefined();
      expect(user!.rules).toContain('-@all');
      expect(user!.rules.some((r) => r === 'allkeys' || r === '+@all' || r === '~*')).toBe(false);
      const can = (key: string) => user!.keys.some((k) => aclPattern(k.pattern)(key));
      for (const key of Object.values(keysOf(agent))) expect(can(key), key).toBe(true);
      for (const other of AGENT_TYPES.filter((a) => a !== agent)) for (const key of Object.values(keysOf(other))) expect(can(key), key).toBe(false);
      for (const command of EXECUTOR_COMMANDS) expect(user!.allowed, command).toContain(command);
    });

    it('documents an ACL for KEDA that reads the task streams and nothing else', () => {
      const keda = users.get('keda');
      expect(keda, 'ACL SETUSER keda').toBeDefined();
      expect(keda!.rules).toContain('-@all');
      expect(keda!.allowed.filter((c) => !KEDA_COMMANDS.has(c))).toEqual([]);
      expect(keda!.keys.every((k) => k.read && !k.write)).toBe(true);
      for (const agent of AGENT_TYPES) {
        const keys = keysOf(agent);
        const can = (key: string) => keda!.keys.some((k) => aclPattern(k.pattern)(key));
        expect(can(keys.tasks), keys.tasks).toBe(true);
        expect(can(keys.results), keys.results).toBe(false);
      }
    });

    it('documents an ACL for controllers: queue tasks and cancels, read results and dead letters, write nothing else', () => {
      const controller = users.get('controller');
      expect(controller, 'ACL SETUSER controller').toBeDefined();
      expect(controller!.rules).toContain('-@all');
      const may = (key: string, perm: 'read' | 'write') => controller!.keys.some((k) => k[perm] && aclPattern(k.pattern)(key));
      for (const agent of AGENT_TYPES) {
        const keys = keysOf(agent);
        expect(may(keys.tasks, 'write') && may(keys.control, 'write'), agent).toBe(true);
        expect(may(keys.results, 'read') && may(keys.dead, 'read'), agent).toBe(true);
        for (const key of [keys.results, keys.answered, keys.claim, keys.dead, keys.session, keys.lease, keys.sessions]) expect(may(key, 'write'), key).toBe(false);
        // Sessions: the direct route appends cells (through a script that reads the record), and
        // `agent-executor sessions` reads the index and the records.
        expect(may(keys.cells, 'write') && may(keys.session, 'read') && may(keys.sessions, 'read'), agent).toBe(true);
      }
    });
  });
});
