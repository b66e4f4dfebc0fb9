/**
 * Content cards (docs/reference/sdk.md#content-cards): the feed of the current user, and the
 * impressions, clicks and dismissals the page reports. Reports go through the upload queue like
 * every event (retried, never counted twice). A dismissed card is remembered on the device too,
 * so it does not come back even before its dismissal is uploaded; expired cards are dropped.
 */
import { getForDevice, storedIds, type SdkCore } from './core.js';

export interface ContentCard {
  id: string;
  title: string;
  description: string;
  image_url: string | null;
  url: string | null;
  pinned: boolean;
  created_at: string;
  expires_at: string;
  viewed: boolean;
  clicked: boolean;
}

type CardRef = ContentCard | string;
const idOf = (card: CardRef) => (typeof card === 'string' ? card : card.id);

export function createCards(core: SdkCore) {
  const dismissed = storedIds(() => core.storage(), 'rivulet.dismissed_cards');
  const seen = new Set<string>();
  return {
    /** The current user's cards: pinned first, then the newest; neither dismissed nor expired. */
    async getContentCards(): Promise<ContentCard[]> {
      const body = (await getForDevice(core, 'content_cards')) as { cards?: ContentCard[] };
      const now = Date.now();
      return (body.cards ?? []).filter((c) => !dismissed.has(c.id) && Date.parse(c.expires_at) > now);
    },
    /** The card was shown. Logged once per card per page. */
    logCardImpression(card: CardRef): void {
      const id = idOf(card);
      if (seen.has(id)) return;
      seen.add(id);
      core.log('content_card_impression', { card_id: id });
    },
    /** The card was clicked (follow `card.url` yourself, after this call). */
    logCardClick(card: CardRef): void {
      core.log('content_card_click', { card_id: idOf(card) });
      void core.flush(true);
    },
    /** The user dismissed the card: it leaves the feed for good. */
    dismissCard(card: CardRef): void {
      const id = idOf(card);
      if (dismissed.has(id)) return;
      dismissed.add(id);
      core.log('content_card_dismiss', { card_id: id });
    },
  };
}
