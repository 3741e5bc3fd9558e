/**
 * The build manifest (`manifest.json` beside the binaries of a build): written by the builder,
 * read by the served set (upload, VM boot, Serve) and verify. One writer and one reader, so a
 * damaged file is one clear error everywhere.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../../../shared/errors';

/** One binary of a build. */
export interface ManifestArtifact {
  target: string;
  file: string;
  size: number;
  sha256: string;
  embeddedVerified: boolean;
}

/** What manifest.json holds. */
export interface BuildManifest {
  builtAt: string;
  engine: string;
  ipxe: { version: string; source: string };
  /** config/local options of the build (console, protocols). */
  options: { serialConsole?: boolean; https?: boolean; syslog?: boolean };
  /** The script embedded in every artifact (absent in manifests older than the read-back). */
  embed?: string;
  artifacts: ManifestArtifact[];
}

export const MANIFEST_FILE = 'manifest.json';

/** The manifest of the build in `dir`; undefined when there is no build there. */
export function readManifest(dir: string | undefined): BuildManifest | undefined {
  const file = dir ? path.join(dir, MANIFEST_FILE) : undefined;
  if (!file || !existsSync(file)) return undefined;
  let m: Partial<BuildManifest>;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Partial<BuildManifest>;
  } catch {
    fail('INVALID_INPUT', `${file} is not a readable build manifest`, { hint: 'Build again (Build step): the manifest was damaged or written by something else.' });
  }
  if (!Array.isArray(m.artifacts) || (m.embed !== undefined && typeof m.embed !== 'string')) fail('INVALID_INPUT', `${file} is not a Bootchain build manifest`, { hint: 'Build again (Build step).' });
  return m as BuildManifest;
}

/** Writes the manifest into `dir` (the builder's staging folder; it moves it in last). Returns the file. */
export function writeManifest(dir: string, m: BuildManifest): string {
  const file = path.join(dir, MANIFEST_FILE);
  writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
  return file;
}
