import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadOptions } from '../../src/config/load.js';
import { credentialsOf } from '../../src/config/redis.js';

describe('loadConfig', () => {
  it('uses the documented defaults', () => {
    const c = loadConfig({});
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.stream).toBe('executor:tasks');
    expect(c.group).toBe('executors');
    expect(c.consumer).toMatch(/-\d+$/);
    expect(c.maxRuns).toBe(100);
    expect(c.wallMs).toBe(30_000);
    expect(c.cpuMs).toBe(10_000);
    expect(c.outputBytes).toBe(1_048_576);
    expect(c.resultTtlS).toBe(3600);
    expect(c.logLevel).toBe('info');
    expect(c.sandboxUser).toBe('64000');
    expect(c.allowSharedUser).toBe(false);
  });

  it('reads the environment and lets flags override it', () => {
    const c = loadConfig(
      { EXECUTOR_MAX_RUNS: '7', EXECUTOR_WALL_MS: '1500', EXECUTOR_STREAM: 'env-stream', EXECUTOR_ALLOW_SHARED_USER: '1' },
      { stream: 'flag-stream' },
    );
    expect(c.maxRuns).toBe(7);
    expect(c.wallMs).toBe(1500);
    expect(c.stream).toBe('flag-stream');
    expect(c.allowSharedUser).toBe(true);
  });

  it('takes the recycling settings and the key prefix, and derives the dead-letter stream from the prefix', () => {
    const c = loadConfig({ EXECUTOR_RECYCLE_JITTER: '1', EXECUTOR_MAX_AGE_S: '0', EXECUTOR_KEY_PREFIX: 'executor:{web}:' });
    expect([c.recycleJitter, c.maxAgeS, c.keyPrefix, c.deadStream]).toEqual([1, 0, 'executor:{web}:', 'executor:{web}:dead']);
    expect(loadConfig({}).deadStream).toBe('executor:dead');
    expect(loadConfig({ EXECUTOR_DEAD_STREAM: 'mine' }).deadStream).toBe('mine');
  });

  it('names REDIS_URL_FILE when the URL in it is bad, and never echoes a password, even one with a slash', () => {
    const file = path.join(os.tmpdir(), `url-${process.pid}`);
    fs.writeFileSync(file, 'http://user:s3/cret@host:1\n');
    try {
      expect(() => loadConfig({ REDIS_URL_FILE: file })).toThrow(/^the URL in REDIS_URL_FILE="[^"]+" \("http:\/\/user:\*\*\*@host:1"\) is invalid: .*must start with redis/);
      const refused = (() => {
        try {
          loadConfig({ REDIS_URL: 'redis://:pa/ss@127.0.0.1:6555 bad' });
        } catch (err) {
          return (err as Error).message;
        }
        return 'accepted';
      })();
      expect(refused).toMatch(/^REDIS_URL="redis:\/\/:\*\*\*@127.0.0.1:6555 bad" is invalid/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('refuses a malformed percent-escape in a cluster password as a bad setting', () => {
    expect(() => credentialsOf('redis://:p%zz@127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'EXEC_ERR_CONFIG_INVALID' }));
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });

  it.each([
    ['EXECUTOR_MAX_RUNS', 'ten'],
    ['EXECUTOR_MAX_RUNS', '0'],
    ['EXECUTOR_WALL_MS', '-5'],
    ['EXECUTOR_CPU_MS', '1.5'],
    ['EXECUTOR_OUTPUT_BYTES', 'lots'],
    ['EXECUTOR_RESULT_TTL_S', '0'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['LOG_LEVEL', 'chatty'],
    ['EXECUTOR_ALLOW_SHARED_USER', 'maybe'],
    ['EXECUTOR_RECYCLE_JITTER', '1.5'],
    ['EXECUTOR_RECYCLE_JITTER', '-0.1'],
    ['EXECUTOR_MAX_AGE_S', '-1'],
    // Over Node's longest timer (2^31 - 1 ms): it would fire at once and recycle every executor.
    ['EXECUTOR_MAX_AGE_S', '2592000'],
    ['EXECUTOR_KEY_PREFIX', 'a{b'],
    ['EXECUTOR_KEY_PREFIX', 'x{}:'],
    ['EXECUTOR_KEY_PREFIX', '{a}{b}:'],
  ])('rejects %s=%s with a message naming the variable and the value', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}="${value.replace('.', '\\.')}" is invalid`));
  });

  it('reads the Redis URL from REDIS_URL_FILE, keeping it out of the environment', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'url');
    fs.writeFileSync(file, 'redis://:s3cret@127.0.0.1:6380\n', { mode: 0o600 });
    expect(loadConfig({ REDIS_URL_FILE: file, REDIS_URL: 'redis://ignored:1' }).redisUrl).toBe('redis://:s3cret@127.0.0.1:6380');
    expect(() => loadConfig({ REDIS_URL_FILE: '/no/such/file' })).toThrow(/REDIS_URL_FILE="\/no\/such\/file" cannot be read/);
  });

  it('names the flag when the bad value came from a flag', () => {
    expect(() => loadConfig({}, { maxRuns: 'x' })).toThrow(/^--max-runs="x" is invalid/);
  });

  it('parses the list settings once, into arrays', () => {
    const c = loadConfig({ EXECUTOR_PRIVATE_DIRS: '/tmp::/dev/shm', EXECUTOR_SWEEP_DIRS: '/a:/b', REDIS_CLUSTER_NODES: 'n1:7000,10.0.0.2:7001', EXECUTOR_STANDBY: 'python,node' });
    expect(c.privateDirs).toEqual(['/tmp', '/dev/shm']);
    expect(c.sweepDirs).toEqual(['/a', '/b']);
    expect(c.clusterNodes).toEqual([{ host: 'n1', port: 7000 }, { host: '10.0.0.2', port: 7001 }]);
    expect(c.standby).toEqual(['python', 'node']);
    const d = loadConfig({});
    expect(d.privateDirs).toEqual(['/tmp', '/var/tmp', '/dev/shm', '/run/lock']);
    expect(d.sweepDirs).toBe('auto');
    expect(d.clusterNodes).toEqual([]);
    expect(d.standby).toBe('all');
    expect(loadConfig({ EXECUTOR_STANDBY: 'none' }).standby).toBe('none');
    expect(loadConfig({ EXECUTOR_PRIVATE_DIRS: ':' }).privateDirs).toEqual([]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'n1' })).toThrow(/^REDIS_CLUSTER_NODES="n1" is invalid: must be host:port/);
  });

  it('resolves the settings whose default follows from others', () => {
    expect(loadConfig({}).drainTimeoutMs).toBe(30_000 + 200 + 10_000);
    expect(loadConfig({ EXECUTOR_WALL_MS: '1000', EXECUTOR_KILL_GRACE_MS: '0' }).drainTimeoutMs).toBe(11_000);
    expect(loadConfig({ EXECUTOR_DRAIN_TIMEOUT_MS: '500' }).drainTimeoutMs).toBe(500);
    expect(loadConfig({ EXECUTOR_KEY_PREFIX: 'p:' }).deadStream).toBe('p:dead');
  });

  it('reads only the settings asked for, with the same sources and messages (submit, cancel)', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'url');
    fs.writeFileSync(file, 'redis://127.0.0.1:6390\n', { mode: 0o600 });
    // A daemon setting that is wrong does not concern a client command.
    const env = { REDIS_URL_FILE: file, EXECUTOR_WALL_MS: 'soon', EXECUTOR_STREAM: 's' };
    expect(loadOptions(['redisUrl', 'stream', 'keyPrefix'], env)).toEqual({ redisUrl: 'redis://127.0.0.1:6390', stream: 's', keyPrefix: 'executor:' });
    expect(() => loadOptions(['keyPrefix'], {}, { keyPrefix: 'a{b' })).toThrow(/^--key-prefix="a\{b" is invalid/);
    expect(Object.isFrozen(loadOptions(['stream'], {}))).toBe(true);
  });

  it('never echoes the password of a bad Redis URL', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://user:hunter2@host:1' })).toThrow(/^REDIS_URL="http:\/\/user:\*\*\*@host:1" is invalid/);
    expect(() => loadConfig({ REDIS_URL: 'http://:hunter2@host:1' })).not.toThrow(/hunter2/);
    // Mistyped URLs too (a red-team review found these echoed whole).
    for (const url of ['redis//:hunter2@host', 'redis:/:hunter2@host', 'redis://host:99999/?password=hunter2', 'hunter2@host']) {
      expect(() => loadConfig({ REDIS_URL: url })).toThrow(/is invalid/);
      expect(() => loadConfig({ REDIS_URL: url })).not.toThrow(/hunter2/);
    }
  });
});
