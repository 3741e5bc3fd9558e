import { appError, BootchainError } from '../../shared/errors';

/**
 * Asks for a secret on the terminal without echoing it (raw mode: nothing typed is printed).
 * Returns undefined when there is no terminal to ask on (pipes, CI) or the answer is empty, so
 * the caller can say which environment variable to set instead. Ctrl-C cancels.
 */
export async function promptSecret(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string | undefined> {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return undefined;
  // Raw mode before the question: an answer typed as soon as the question shows must not be
  // echoed by the terminal's cooked mode.
  input.setRawMode(true);
  output.write(question);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = (e?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (e) reject(e);
      else resolve(answer === '' ? undefined : answer);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new BootchainError(appError('CANCELLED', 'Cancelled at the secret prompt', { hint: 'Run the command again, or give the secret in its environment variable.' })));
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else if (ch === '\u0015') answer = '';
        else if (ch >= ' ') answer += ch;
      }
    };
    input.on('data', onData);
  });
}
