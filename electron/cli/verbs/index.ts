/** Every verb of the CLI, in the order `bootchain --help` and the README list them. */
import type { Verb } from '../options';
import { build } from './build';
import { discover, probe } from './iscsi';
import { generate, iqn, kernelCheck } from './model';
import { check, scan } from './scan';
import { serve } from './serve';
import { interfaces, privileges } from './system';
import { backups, hostkey, rollback, upload } from './upload';
import { verify } from './verify';
import { install, write } from './install';
import { watch } from './watch';

export const VERBS: readonly Verb[] = [scan, check, discover, probe, iqn, generate, build, upload, backups, rollback, hostkey, verify, watch, write, install, serve, privileges, kernelCheck, interfaces];
