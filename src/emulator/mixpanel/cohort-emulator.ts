/**
 * The cohort side of the emulated Mixpanel, beside the ingestion side (`MixpanelEmulator`): the
 * people and cohorts of each project, the engage query API over them and the webhook sender that
 * exports them. It shares the ingestion side's project registry and clock, so one set of projects
 * and service accounts serves every emulated API.
 */
import { CohortBook } from './cohorts.js';
import { EngageApi, type EngageSettings } from './engage.js';
import type { ProjectRegistry } from './projects.js';
import { WebhookSender, type SenderSettings } from './webhook-sender.js';

export interface CohortEmulatorOptions {
  engage?: Partial<EngageSettings>;
  webhookSender?: Partial<SenderSettings>;
  seed?: number;
}

export class CohortEmulator {
  readonly book: CohortBook;
  readonly engage: EngageApi;
  readonly sender: WebhookSender;

  constructor(
    readonly registry: ProjectRegistry,
    readonly now: () => number,
    options: CohortEmulatorOptions = {},
  ) {
    this.book = new CohortBook(now);
    this.engage = new EngageApi(registry, this.book, now, options.engage, options.seed ?? 1);
    this.sender = new WebhookSender(this.book, now, options.webhookSender);
  }

  /** Drops cohorts, profiles, paging sessions, query counters, faults and webhook syncs. */
  reset(): void {
    this.sender.reset();
    this.engage.reset();
    this.book.clear();
  }

  close(): void {
    this.sender.close();
  }
}
