import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { GVISOR_RELEASE, GVISOR_VERSION, isGvisorKernel, probeCapabilities } from '../../src/sandbox/capabilities.js';

describe('gVisor detection', () => {
  it("is decided by the kernel's own identity, which gVisor fixes", () => {
    const procVersion = `Linux version ${GVISOR_RELEASE} ${GVISOR_VERSION}\n`;
    expect(isGvisorKernel({ release: GVISOR_RELEASE, version: GVISOR_VERSION, procVersion })).toBe(true);
    expect(isGvisorKernel({ release: GVISOR_RELEASE, version: GVISOR_VERSION, procVersion: undefined })).toBe(true);
    expect(isGvisorKernel({ release: '6.1.0-18-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1', procVersion: 'Linux version 6.1.0 gVisor' })).toBe(false);
    expect(isGvisorKernel({ release: GVISOR_RELEASE, version: GVISOR_VERSION, procVersion: 'Linux version 6.1.0' })).toBe(false);
  });

  it('says none on this kernel (the tests run natively here)', async () => {
    if (os.release() === GVISOR_RELEASE) return;
    expect((await probeCapabilities(false)).kind).toBe('none');
  });
});
