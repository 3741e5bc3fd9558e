/** Rewrites the README's CLI tables from the verbs' option tables: `npx tsx scripts/cli-readme.ts`. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withCliTables } from '../electron/cli/readme';

const file = path.resolve(import.meta.dirname, '../README.md');
const before = readFileSync(file, 'utf8');
const after = withCliTables(before);
if (after !== before) writeFileSync(file, after);
process.stdout.write(after === before ? 'README.md: the CLI tables were up to date\n' : 'README.md: CLI tables rewritten\n');
