import { describe, expect, it } from 'vitest';
import { parseRecords } from './body.js';
import { checkImportRecord, mayHoldLoneSurrogates, type RecordCheck } from './validation.js';

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const props = (extra: Record<string, unknown> = {}) => ({ time: NOW_S - 60, distinct_id: 'u42', $insert_id: 'abc-123', ...extra });
const check = (raw: unknown) => checkImportRecord(raw, NOW_MS);
const failure = (r: RecordCheck) => (r.ok ? null : { field: r.field, message: r.message, insertId: r.insertId });

describe('checkImportRecord: messages of docs/reference/mixpanel-apis.md §4', () => {
  it('accepts a valid record and derives its dedup key in ms', () => {
    const r = check({ event: 'Email Send', properties: props({ token: 'tok' }) });
    expect(r).toEqual({
      ok: true,
      record: { event: 'Email Send', properties: props({ token: 'tok' }) },
      key: { event: 'Email Send', distinctId: 'u42', timeMs: NOW_MS - 60_000, insertId: 'abc-123' },
      ignored: false,
    });
  });

  it('allows only event and properties at the top level', () => {
    expect(failure(check({ event: 'E', properties: props(), extra: 1 }))).toEqual({ field: 'extra', message: "'extra' is not allowed", insertId: 'abc-123' });
  });

  it('requires a non-empty event name and an object of properties', () => {
    expect(failure(check({ event: '', properties: props() }))).toMatchObject({ field: 'event', message: "'event' is invalid: must be a non-empty string" });
    expect(failure(check({ properties: props() }))).toMatchObject({ field: 'event' });
    expect(failure(check({ event: 'E', properties: [] }))).toEqual({
      field: 'properties',
      message: "'properties' is invalid: must be an object",
      insertId: null,
    });
    expect(failure(check('nope'))).toMatchObject({ field: 'record', insertId: null });
  });

  it('requires a numeric time', () => {
    const msg = "'properties.time' is invalid: must be specified as seconds since epoch";
    expect(failure(check({ event: 'E', properties: { distinct_id: 'u', $insert_id: 'x1' } }))).toEqual({ field: 'properties.time', message: msg, insertId: 'x1' });
    expect(failure(check({ event: 'E', properties: props({ time: '1700000000' }) }))).toMatchObject({ message: msg });
  });

  it('bounds time between 1971 and one hour ahead, reading ≥ 1e10 as milliseconds', () => {
    const msg = "'properties.time' is invalid: must be after 1971-01-01 and at most 1 hour in the future";
    expect(failure(check({ event: 'E', properties: props({ time: 31_535_999 }) }))).toMatchObject({ field: 'properties.time', message: msg });
    expect(check({ event: 'E', properties: props({ time: 31_536_000 }) }).ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props({ time: NOW_S + 3601 }) }))).toMatchObject({ message: msg });
    expect(failure(check({ event: 'E', properties: props({ time: NOW_MS + 3_600_001 }) }))).toMatchObject({ message: msg });
    const ms = check({ event: 'E', properties: props({ time: NOW_MS - 5 }) });
    expect(ms.ok && ms.key.timeMs).toBe(NOW_MS - 5);
  });

  it('stores a future time within the hour as the ingestion time', () => {
    const s = check({ event: 'E', properties: props({ time: NOW_S + 1800 }) });
    expect(s.ok && s.record.properties['time']).toBe(NOW_S);
    expect(s.ok && s.key.timeMs).toBe(NOW_MS);
    const ms = check({ event: 'E', properties: props({ time: NOW_MS + 1000 }) });
    expect(ms.ok && ms.record.properties['time']).toBe(NOW_MS);
  });

  it('requires a string distinct_id that is not disallowed; "" is allowed', () => {
    expect(failure(check({ event: 'E', properties: props({ distinct_id: undefined }) }))).toMatchObject({
      field: 'properties.distinct_id',
      message: "'properties.distinct_id' is required",
    });
    expect(failure(check({ event: 'E', properties: props({ distinct_id: 42 }) }))).toMatchObject({
      message: "'properties.distinct_id' is invalid: must be a string",
    });
    for (const bad of ['NULL', 'Anonymous', '<nil>', '-1', '0', '{}', '00000000-0000-0000-0000-000000000000']) {
      expect(failure(check({ event: 'E', properties: props({ distinct_id: bad }) }))).toMatchObject({
        message: "'properties.distinct_id' is invalid: value is not allowed",
      });
    }
    expect(check({ event: 'E', properties: props({ distinct_id: '' }) }).ok).toBe(true);
  });

  it('requires an $insert_id of at most 36 bytes of [A-Za-z0-9-], not disallowed', () => {
    expect(failure(check({ event: 'E', properties: props({ $insert_id: undefined }) }))).toEqual({
      field: 'properties.$insert_id',
      message: "'properties.$insert_id' is required",
      insertId: null,
    });
    const shape = "'properties.$insert_id' is invalid: must be at most 36 bytes of alphanumerics and '-'";
    for (const bad of ['a'.repeat(37), 'evt_1', '', 'é', 7]) {
      expect(failure(check({ event: 'E', properties: props({ $insert_id: bad }) }))).toEqual({ field: 'properties.$insert_id', message: shape, insertId: bad });
    }
    expect(failure(check({ event: 'E', properties: props({ $insert_id: 'None' }) }))).toMatchObject({
      message: "'properties.$insert_id' is invalid: value is not allowed",
    });
    expect(check({ event: 'E', properties: props({ $insert_id: 'A'.repeat(36) }) }).ok).toBe(true);
  });

  it('rejects lone surrogates with the property named', () => {
    expect(failure(check({ event: 'E', properties: props({ note: 'ok \ud800 bad' }) }))).toMatchObject({
      field: 'properties.note',
      message: 'properties.note is invalid: string should be valid utf8',
    });
    expect(failure(check({ event: 'E', properties: props({ deep: { list: ['\udc00'] } }) }))).toMatchObject({ field: 'properties.deep' });
    expect(check({ event: 'E', properties: props({ emoji: '😀' }) }).ok).toBe(true);
  });

  it('skips the surrogate walk only for bodies whose text cannot produce one', () => {
    expect(mayHoldLoneSurrogates('[{"a":"\\ud800"}]')).toBe(true);
    expect(mayHoldLoneSurrogates('[{"\\uDFFF":1}]')).toBe(true);
    expect(mayHoldLoneSurrogates('[{"a":"\\u00e9 😀 \\uFFFD"}]')).toBe(false);
    // Through the body parser: an escaped lone surrogate (in a value or a key) is still refused.
    for (const text of [
      `[{"event":"E","properties":{"time":${NOW_S - 60},"distinct_id":"u42","$insert_id":"abc-123","note":"x\\udc00"}}]`,
      `[{"event":"E","properties":{"time":${NOW_S - 60},"distinct_id":"u42","$insert_id":"abc-123","\\ud800":1}}]`,
    ]) {
      const parsed = parseRecords(Buffer.from(text), 'json', 2000);
      if (!parsed.ok) throw new Error(parsed.error);
      expect(parsed.surrogates).toBe(true);
      expect(checkImportRecord(parsed.records[0], NOW_MS, { surrogates: parsed.surrogates }).ok).toBe(false);
    }
    const clean = parseRecords(Buffer.from(`[{"event":"E","properties":{"time":${NOW_S - 60},"distinct_id":"u42","$insert_id":"abc-123","emoji":"😀"}}]`), 'json', 2000);
    if (!clean.ok) throw new Error(clean.error);
    expect(clean.surrogates).toBe(false);
    expect(checkImportRecord(clean.records[0], NOW_MS, { surrogates: clean.surrogates }).ok).toBe(true);
  });

  it('stores a record that needs no truncation as it came, and truncates one that does', () => {
    const long = 'x'.repeat(300);
    const r = check({ event: 'E', properties: props({ s: long, nested: { [long]: [long] } }) });
    if (!r.ok) throw new Error(r.message);
    expect(r.record.properties['s']).toBe('x'.repeat(255));
    expect(r.record.properties['nested']).toEqual({ ['x'.repeat(255)]: ['x'.repeat(255)] });
    const short = check({ event: 'E', properties: props({ s: 'short', nested: { a: ['b'] } }) });
    expect(short.ok && short.record.properties).toEqual(props({ s: 'short', nested: { a: ['b'] } }));
  });

  it('enforces the per-event limits of §3', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(check({ event: 'E', properties: props(keys(251)) }).ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props(keys(252)) }))).toMatchObject({
      field: 'properties',
      message: "'properties' is invalid: must have fewer than 255 properties",
    });
    expect(check({ event: 'E', properties: props({ n: { a: { b: { c: 1 } } } }) }).ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props({ n: { a: { b: { c: { d: 1 } } } } }) }))).toEqual({
      field: 'properties.n',
      message: "'properties' is invalid: nesting must be at most 3 levels deep",
      insertId: 'abc-123',
    });
    expect(failure(check({ event: 'E', properties: props({ o: keys(255) }) }))).toMatchObject({
      field: 'properties.o',
      message: "'properties' is invalid: nested objects must have fewer than 255 keys",
    });
    expect(check({ event: 'E', properties: props({ l: Array(254).fill(0) }) }).ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props({ l: Array(255).fill(0) }) }))).toMatchObject({
      field: 'properties.l',
      message: "'properties' is invalid: arrays must have fewer than 255 elements",
    });
    const big = { event: 'E', properties: props({ blob: '' }) };
    const room = 1_048_576 - Buffer.byteLength(JSON.stringify(big));
    expect(check({ event: 'E', properties: props({ blob: 'x'.repeat(room - 1) }) }).ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props({ blob: 'x'.repeat(room) }) }))).toMatchObject({
      field: 'properties',
      message: "'properties' is invalid: event must be under 1048576 bytes of JSON",
    });
  });

  it('measures the size as the JSON the record serializes to, not its text (numbers can grow)', () => {
    // 200 arrays of 254 × 1e20: about 250 KB as sent, over 1 MiB once serialized (each number
    // becomes 100000000000000000000).
    const text = `{"event":"E","properties":{"time":${NOW_S - 60},"distinct_id":"u","$insert_id":"i1",${Array.from(
      { length: 200 },
      (_, i) => `"a${i}":[${Array(254).fill('1e20').join(',')}]`,
    ).join(',')}}}`;
    expect(text.length).toBeLessThan(300_000);
    expect(failure(check(JSON.parse(text)))).toMatchObject({ field: 'properties', message: "'properties' is invalid: event must be under 1048576 bytes of JSON" });
    // Escapes: 170,000 control characters are 1,020,000 bytes of JSON (\u0001 each), under the limit.
    const controls = check({ event: 'E', properties: props({ c: '\u0001'.repeat(170_000) }) });
    expect(controls.ok).toBe(true);
    expect(failure(check({ event: 'E', properties: props({ c: '\u0001'.repeat(174_800) }) }))).toMatchObject({ field: 'properties' });
  });

  it('truncates strings and property names to 255 characters', () => {
    const long = 'é'.repeat(300);
    const r = check({ event: 'E', properties: props({ s: long, ['k'.repeat(300)]: 1, nested: { list: [long] }, lists: [[1, [long]]] }) });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.record.properties['s']).toBe('é'.repeat(255));
    expect(r.record.properties['k'.repeat(255)]).toBe(1);
    expect(r.record.properties['nested']).toEqual({ list: ['é'.repeat(255)] });
    expect(r.record.properties['lists']).toEqual([[1, ['é'.repeat(255)]]]);
    const proto = check(JSON.parse(`{"event":"E","properties":{"time":${NOW_S},"distinct_id":"u","$insert_id":"i","n":{"__proto__":1,"a":2}}}`));
    expect(proto.ok && proto.record.properties['n']).toEqual({ a: 2 });
    const astral = check({ event: 'E', properties: props({ s: '😀'.repeat(300) }) });
    expect(astral.ok && [...(astral.record.properties['s'] as string)].length).toBe(255);
  });

  it('marks $ignore records', () => {
    const r = check({ event: 'E', properties: props({ $ignore: true }) });
    expect(r.ok && r.ignored).toBe(true);
    const f = check({ event: 'E', properties: props({ $ignore: false }) });
    expect(f.ok && f.ignored).toBe(false);
  });
});

describe('parseRecords: text', () => {
  it('drops a leading byte-order mark and refuses invalid UTF-8, as a fatal TextDecoder does', () => {
    const body = Buffer.from(`\ufeff[{"event":"E","properties":{}}]`);
    expect(parseRecords(body, 'json', 10)).toMatchObject({ ok: true, records: [{ event: 'E' }] });
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const raw = Buffer.concat([Buffer.from('[{"event":"'), Buffer.from(bad), Buffer.from('","properties":{}}]')]);
      expect(parseRecords(raw, 'json', 10)).toEqual({ ok: false, status: 400, error: 'request body is not valid UTF-8' });
    }
  });
});
