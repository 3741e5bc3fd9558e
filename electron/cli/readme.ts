/** The README's CLI tables, generated from the verbs' option tables (scripts/cli-readme.ts writes them, readme.test.ts checks them). */
import { readmeTables } from './options';
import { VERBS } from './verbs';

export const README_BEGIN = '<!-- cli-tables: generated from electron/cli/verbs by `npx tsx scripts/cli-readme.ts`; electron/cli/readme.test.ts checks them -->';
export const README_END = '<!-- /cli-tables -->';

/** The generated block, markers included. */
export const cliTables = (): string => `${README_BEGIN}\n${readmeTables(VERBS)}\n${README_END}`;

/** The README with its generated block replaced by the current one (throws without the markers). */
export function withCliTables(readme: string): string {
  const a = readme.indexOf(README_BEGIN);
  const b = readme.indexOf(README_END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${README_BEGIN} … ${README_END} block`);
  return `${readme.slice(0, a)}${cliTables()}${readme.slice(b + README_END.length)}`;
}
