/**
 * Secrets for CLI commands come from stdin or the environment, never from argv: the command line
 * of every process is readable by every local user (`ps`, /proc/<pid>/cmdline) and lands in shell
 * history.
 */
import { CliError } from './store.js';

/** The whole of stdin, without its trailing newline; an empty secret is refused. */
export async function readSecretFromStdin(flag: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`${flag}: type the secret, then Enter and Ctrl-D\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!secret) throw new CliError(`${flag}: stdin was empty; write the secret to stdin (printf '%s' "$SECRET" | rivulet …)`);
  return secret;
}
