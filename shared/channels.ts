/**
 * The channel names alone, without schemas, so the sandboxed preload can build window.api
 * from them without bundling zod. contract.ts checks at compile time that both lists agree.
 */
export const CHANNELS = ['app:info', 'net:interfaces', 'scan:start', 'portal:check', 'iscsi:discover', 'iscsi:probe', 'project:list', 'project:load', 'project:save', 'secrets:status', 'secrets:get', 'secrets:set', 'secrets:forget', 'privileges:status', 'privileges:grant', 'build:engines', 'build:start', 'ssh:hostkey', 'ssh:trust', 'upload:start', 'upload:backups', 'upload:rollback', 'verify:start', 'vm:boot', 'serve:start', 'install:inspect', 'install:write', 'install:vm', 'install:stop', 'watch:start', 'watch:stop', 'jobs:cancel', 'dialog:open'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The one push channel: job events from main to renderer. */
export const JOB_EVENT_CHANNEL = 'jobs:event';
