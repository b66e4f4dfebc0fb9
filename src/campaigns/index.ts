/**
 * Campaigns: target a segment, send email and webhooks through the durable send pipeline, and put
 * every moment of a message on the event log (docs/reference/campaigns.md).
 */
import type { FastifyInstance } from 'fastify';
import { SmtpTransports } from '../channels/index.js';
import { AddressPolicy, guardedAgent } from '../channels/index.js';
import type { Config } from '../config.js';
import type { CapabilityPlugin } from '../http/index.js';
import type { SecretBox } from '../secrets/index.js';
import { getSegment, SegmentEvaluator } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import { campaignRoutes } from './routes.js';
import { campaignDashboardRoutes } from './dashboard-routes.js';
import { triggerSendRoute } from './trigger-route.js';
import { messagesRoutes } from './api-routes/messages.js';
import { emailRoutes } from './api-routes/email.js';
import { campaignApiRoutes } from './api-routes/campaigns.js';
import { triggerScheduleRoutes } from './api-routes/trigger-schedules.js';
import { startSchedulePoller } from './schedules.js';
import { getCampaignById } from './store.js';
import { DEFAULT_WORKER_TIMING, SendWorker, type WorkerTiming } from './worker.js';
import { ConversionReader } from './conversions.js';
import { providerEventRoutes } from './provider-events.js';
import { TriggerReader } from './triggers/reader.js';
import { deliverySettingsRoutes } from './delivery-routes.js';
import { loadSmsProvider, sendSms, smsRoutes, statusCallbackPath } from '../channels/index.js';
import { sdkAuthenticator, SDK_KEY_HEADER } from '../sdk/index.js';
import { pushRoutes, PUSH_OPEN_PATH, sendPush, signOpenToken, vapidKeys, vapidSubject } from '../channels/index.js';
import { campaignEvent, type SendContext } from './events.js';

export { dispatchProgress, type DispatchProgress } from './dashboard-store.js';
export { dispatchFinished, progressLine } from './progress-bar.js';
export { getCampaignById } from './store.js';
export { checkCampaignBody, type CampaignInput, type CampaignDefinition } from './definition.js';
export { sendKey, uuidV5, bucketOf } from './assignment.js';

export interface Campaigns {
  routes: CapabilityPlugin[];
  /** Starts this process's send workers; returns their stop. */
  startWorkers(app: FastifyInstance): () => Promise<void>;
}

/** `box`: the deployment's master key (its derived keys sign tracking links, the same in every process). */
export async function createCampaigns(db: Db, config: Config, box: SecretBox, opts: { timing?: Partial<WorkerTiming>; now?: () => number } = {}): Promise<Campaigns> {
  const secrets = new Map<string, Buffer>();
  const trackingSecret = (workspaceId: string) => {
    let s = secrets.get(workspaceId);
    if (!s) secrets.set(workspaceId, (s = box.deriveKey(`email-tracking:${workspaceId}`)));
    return s;
  };
  // Its own cache: audiences are resolved once per dispatch, away from the dashboard's counts.
  const evaluator = new SegmentEvaluator(db, { cacheBytes: 64 * 1024 * 1024 });
  const transports = new SmtpTransports();
  const policy = new AddressPolicy(config.messaging.webhookAllow);
  const agent = guardedAgent(policy);
  const timing = { ...DEFAULT_WORKER_TIMING, pollMs: config.messaging.sendPollMs, concurrency: config.messaging.sendConcurrency, leaseMs: config.messaging.sendLeaseMs, ...opts.timing };
  // Promises, not values: the lanes that ask at once share one query (single flight).
  const names = new Map<string, Promise<string>>();
  const channelOf = async (campaignId: string) => {
    const c = await getCampaignById(db, campaignId);
    return c ? { channel: c.channel, name: c.name } : undefined;
  };
  let worker: SendWorker | undefined;
  const now = opts.now ?? Date.now;
  const openSecrets = new Map<string, Buffer>();
  const openSecret = (workspaceId: string) => {
    let s = openSecrets.get(workspaceId);
    if (!s) openSecrets.set(workspaceId, (s = box.deriveKey(`push-open:${workspaceId}`)));
    return s;
  };
  const subject = vapidSubject(config.publicUrl);

  return {
    routes: [
      smsRoutes({ db, box, publicUrl: config.publicUrl, statusEvent: (m, type, fields, t) => campaignEvent(`users.messages.sms.${type}`, m.context as unknown as SendContext, fields, t) }),
      pushRoutes({
        box,
        sdk: { authenticator: sdkAuthenticator, keyHeader: SDK_KEY_HEADER },
        allowHttpHosts: config.messaging.webhookAllow,
        openSecret,
        openEvent: (m, fields, t) => {
          const e = campaignEvent('users.messages.pushnotification.Open', m.context as unknown as SendContext, fields, t, m.subscription_id);
          e.user.device_id = m.device_id;
          return e;
        },
      }),
      deliverySettingsRoutes({ db }),
      providerEventRoutes({ db }),
      triggerSendRoute({ db, wake: () => worker?.wake() }),
      messagesRoutes({ db, wake: () => worker?.wake(), now }),
      emailRoutes({ db, now }),
      campaignApiRoutes({ db, now }),
      triggerScheduleRoutes({ db, now }),
      campaignRoutes({
      db,
      wake: () => worker?.wake(),
      trackingSecret,
      audienceSize: async (ws, segmentId) => {
        const segment = await getSegment(db, ws, segmentId);
        return segment ? evaluator.count(ws, segment.filter) : 0;
      },
    }), campaignDashboardRoutes({
      db,
      publicUrl: config.publicUrl,
      smtp: { url: config.messaging.smtpUrl ?? 'smtp://127.0.0.1:25', maxConnections: config.messaging.smtpConnections },
      sendEmail: (settings, email) => transports.send(settings, email),
      trackingSecret,
    })],
    startWorkers(app) {
      worker = new SendWorker(
        {
          db,
          publicUrl: config.publicUrl,
          smtp: { url: config.messaging.smtpUrl ?? 'smtp://127.0.0.1:25', maxConnections: config.messaging.smtpConnections },
          sendEmail: (settings, email) => transports.send(settings, email),
          webhookAgent: agent,
          webhookPolicy: policy,
          trackingSecret,
          campaignName: async (id) => {
            let n = names.get(id);
            if (n === undefined) {
              names.set(id, (n = channelOf(id).then((c) => c?.name ?? id)));
              n.catch(() => names.delete(id));
            }
            return n;
          },
          now: opts.now ?? Date.now,
          sms: {
            provider: (workspaceId) => loadSmsProvider(db, box, workspaceId),
            send: (provider, message) => sendSms(provider, message),
            statusCallback: (workspaceId, sendKey) => config.publicUrl + statusCallbackPath(workspaceId, sendKey),
          },
          push: {
            vapid: (workspaceId) => vapidKeys(db, box, workspaceId),
            send: (target, payload, vapid) => sendPush(target, payload, vapid, subject, agent, policy),
            openUrl: config.publicUrl + PUSH_OPEN_PATH,
            openToken: (workspaceId, sendKey, subscriptionId) => signOpenToken({ workspaceId, sendKey, subscriptionId }, openSecret(workspaceId)),
          },
        },
        evaluator,
        channelOf,
        timing,
        (err) => app.log.error({ err }, 'campaign send failed'),
      );
      worker.start();
      const stopSchedules = startSchedulePoller(db, { pollMs: timing.pollMs, now, wake: () => worker?.wake(), onError: (err) => app.log.error({ err }, 'campaign schedule failed') });
      const conversions = new ConversionReader(db, { pollMs: Math.max(timing.pollMs, 100), leaseMs: 60_000, pageSize: 2000 }, (err) => app.log.error({ err }, 'campaign conversion reader failed'));
      conversions.start();
      const triggers = new TriggerReader(db, { pollMs: Math.max(timing.pollMs, 100), leaseMs: 60_000, pageSize: 2000, now }, () => worker?.wake(), (err) => app.log.error({ err }, 'campaign trigger reader failed'));
      triggers.start();
      return async () => {
        await stopSchedules();
        await triggers.stop();
        await conversions.stop();
        await worker?.stop();
        transports.close();
        await agent.close();
      };
    },
  };
}
