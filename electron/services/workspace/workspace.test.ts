import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BootchainError } from '../../../shared/errors';
import { defaultDataDir, Workspace } from './workspace';

describe('the workspace', () => {
  it('lays the data folder out in one place', () => {
    const w = new Workspace('/d');
    expect([w.buildDir({ name: 'lab' }), w.buildCache(), w.serveRoot({ name: 'lab' }), w.knownHostsFile(), w.secretsDir(), w.projects().dir]).toEqual([
      '/d/builds/lab',
      '/d/build-cache',
      '/d/serve/lab',
      '/d/known_hosts',
      '/d',
      '/d/projects',
    ]);
  });

  it('lets an in-process caller move the build folder and the known hosts, nothing else', () => {
    const w = new Workspace('/d', { buildDir: '/tmp/b', knownHosts: '/tmp/k' });
    expect([w.buildDir({ name: 'lab' }), w.knownHostsFile(), w.serveRoot({ name: 'lab' })]).toEqual(['/tmp/b', '/tmp/k', '/d/serve/lab']);
  });

  it('refuses a project name that would climb out of its folder', () => {
    expect(() => new Workspace('/d').buildDir({ name: '../etc' })).toThrow(BootchainError);
  });

  it('is BOOTCHAIN_DATA_DIR, else the config folder', () => {
    expect(defaultDataDir({ BOOTCHAIN_DATA_DIR: '/x' })).toBe('/x');
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/c' })).toBe(path.join('/c', 'bootchain'));
  });
});
