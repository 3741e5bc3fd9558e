import { describe, expect, it } from 'vitest';
import { containerReady, normalizeImage, pickAutomatic, targetsForFirmware, type EngineInfo } from './build';

const podman = (over: Partial<EngineInfo> = {}): EngineInfo => ({ kind: 'podman', available: true, base: 'docker.io/library/debian:bookworm-slim', imageReady: true, images: ['localhost/base:latest'], ...over });
const local: EngineInfo = { kind: 'local', available: true };

describe('automatic engine', () => {
  it('takes podman only when its base (or build) image is here, else the local compilers', () => {
    expect(pickAutomatic([podman(), local])).toBe('podman');
    expect(pickAutomatic([podman({ imageReady: false }), local])).toBe('local');
    expect(pickAutomatic([podman({ available: false }), local])).toBe('local');
    expect(pickAutomatic([podman({ imageReady: false }), { kind: 'local', available: false }])).toBeUndefined();
    // A base the user chose: ready when the engine lists it (with or without ":latest").
    expect(pickAutomatic([podman({ imageReady: false }), local], 'localhost/base')).toBe('podman');
    expect(pickAutomatic([podman(), local], 'quay.io/other:1')).toBe('local');
    expect(pickAutomatic([podman({ available: false }), { kind: 'docker', available: true, base: 'b:1', imageReady: true }, local])).toBe('docker');
  });
  it('compares image names as engines list them', () => {
    expect(normalizeImage('debian')).toBe('debian:latest');
    expect(normalizeImage('localhost:5000/debian')).toBe('localhost:5000/debian:latest');
    expect(normalizeImage('debian:trixie')).toBe('debian:trixie');
    expect(containerReady(podman(), 'docker.io/library/debian:bookworm-slim')).toBe(true);
    expect(containerReady(local)).toBe(false);
  });
});

describe('targets from firmware', () => {
  it('a UEFI station needs snponly.efi, a BIOS one undionly.kpxe', () => {
    expect(targetsForFirmware([{ firmware: 'uefi' }])).toEqual(['uefi']);
    expect(targetsForFirmware([{ firmware: 'uefi' }, { firmware: 'bios' }, { firmware: 'uefi' }])).toEqual(['bios', 'uefi']);
    expect(targetsForFirmware([])).toEqual(['bios']);
  });
});
