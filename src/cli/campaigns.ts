/**
 * `rivulet campaigns progress <id> [--wait]`: a campaign's dispatches with a progress bar each
 * (queued, sent, failed, aborted, skipped, control). With `--wait` the bar is redrawn until every
 * dispatch has ended (or the campaign is stopped); on a terminal it redraws in place, otherwise it
 * prints a line whenever the numbers change. Beside a server on the embedded store it runs in that
 * server (src/cli/store.ts).
 */
import type { Command } from 'commander';
import { dispatchFinished, dispatchProgress, getCampaignById, progressLine } from '../campaigns/index.js';
import { CliError, runOperation, type Operation } from './store.js';

interface ProgressArgs {
  id: string;
  wait: boolean;
  json: boolean;
  intervalMs: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const campaignOperations: Record<string, Operation> = {
  async 'campaigns.progress'(db, args: ProgressArgs, io) {
    if (!UUID.test(args.id)) throw new CliError(`campaign id: ${args.id} is not a UUID`);
    const campaign = await getCampaignById(db, args.id);
    if (!campaign) throw new CliError(`no campaign ${args.id}`);
    let last = '';
    for (;;) {
      const state = (await getCampaignById(db, args.id))?.state ?? campaign.state;
      const dispatches = await dispatchProgress(db, campaign.workspace_id, campaign.id);
      const done = dispatches.every(dispatchFinished) || state === 'stopped' || state === 'archived';
      if (args.json) {
        if (!args.wait || done) return io.out(JSON.stringify({ campaign_id: campaign.id, state, dispatches }, null, 2));
      } else {
        const lines = dispatches.map((d) => `${d.dispatch_id.slice(0, 8)} ${progressLine(d)}`);
        const text = `${campaign.name} (${state})\n${lines.length ? lines.join('\n') : 'not launched yet'}`;
        if (!args.wait) return io.out(text);
        if (text !== last) {
          if (io.stderrIsTty && last) io.err(`\x1b[${last.split('\n').length}A\x1b[J`);
          io.err(`${text}\n`);
          last = text;
        }
        if (done) return io.out(dispatches.length ? `done: ${dispatches.reduce((s, d) => s + d.sent, 0)} sent` : 'nothing to wait for');
      }
      if (io.signal.aborted) {
        io.exitCode = 130;
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, args.intervalMs);
        io.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  },
};

export function registerCampaignCommands(program: Command): void {
  const cmd = program.command('campaigns').description('follow campaigns (create and launch them with the admin API or the dashboard)');
  cmd
    .command('progress <id>')
    .description("a campaign's dispatches with a progress bar each")
    .option('--wait', 'redraw until every dispatch has ended')
    .option('--json', 'print JSON')
    .option('--interval <ms>', 'poll interval with --wait', '500')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean; interval: string }) => {
      const intervalMs = Math.max(100, Number(opts.interval) || 500);
      await runOperation('campaigns.progress', { id, wait: opts.wait === true, json: opts.json === true, intervalMs } satisfies ProgressArgs);
    });
}
