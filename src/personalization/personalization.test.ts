import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteBrazeReferences } from './braze-syntax.js';
import { BRAZE_FILTERS } from './filters.js';
import { buildRenderScope, compileTemplate, MAX_TEMPLATE_CHARS, randomBucketNumber, renderTemplate, type ProfileForRender, type ScopeInput } from './index.js';

const profile: ProfileForRender = {
  id: '6f1c9c1e-8d52-4a5b-9a59-0d2b5f3e1a10',
  external_id: 'u-1',
  email: 'ada@example.com',
  phone: null,
  first_name: 'Ada',
  last_name: 'Lovelace',
  gender: 'F',
  dob: '1815-12-10',
  country: 'GB',
  language: 'en',
  home_city: 'London',
  time_zone: 'Europe/London',
  email_subscribe: 'opted_in',
  custom_attributes: { plan: 'pro', 'plan tier': 'gold', address: { city: 'Marylebone' }, renewed: { $time: '2026-01-02T00:00:00.000Z' }, empty: '', off: false, space: ' ' },
};

async function render(source: string, extra: Partial<ScopeInput> = {}) {
  const compiled = compileTemplate(source);
  if (!compiled.template) throw new Error(JSON.stringify(compiled.problems));
  return renderTemplate(compiled.template, buildRenderScope({ profile, ...extra }));
}

describe('Braze references', () => {
  it('renders standard and custom attributes, nested keys and names with spaces', async () => {
    expect(await render('Hi {{${first_name}}} {{ ${last_name} }} of {{${city}}}')).toEqual({ ok: true, text: 'Hi Ada Lovelace of London' });
    expect(await render('{{custom_attribute.${plan}}}/{{custom_attribute.${plan tier}}}/{{custom_attribute.${address}.city}}')).toEqual({ ok: true, text: 'pro/gold/Marylebone' });
    expect(await render('{{custom_attribute.${address.city}}}|{{ custom_attribute.${address.city} | upcase }}')).toEqual({ ok: true, text: 'Marylebone|MARYLEBONE' });
    expect(await render('{{custom_attribute.${renewed}}} {{${user_id}}} {{${braze_id}}}')).toEqual({ ok: true, text: `2026-01-02T00:00:00.000Z u-1 ${profile.id}` });
  });

  it('reads trigger, API, Canvas entry, campaign and subscription values', async () => {
    const out = await render(
      '{{event_properties.${sku}}} {{api_trigger_properties.${coupon}}} {{canvas_entry_properties.${step}}}={{context.${step}}} {{campaign.${name}}} {{subscribed_state.${email_global}}} {{${set_user_to_unsubscribed_url}}}',
      {
        eventProperties: { sku: 'A-1' },
        apiTriggerProperties: { coupon: 'SAVE10' },
        canvasEntryProperties: { step: 2 },
        campaign: { api_id: 'c', dispatch_id: 'd', name: 'Spring', message_name: 'm', message_api_id: 'mid' },
        links: { unsubscribe: 'https://r.example/u/tok' },
      },
    );
    expect(out).toEqual({ ok: true, text: 'A-1 SAVE10 2=2 Spring opted_in https://r.example/u/tok' });
  });

  it('renders a missing value empty; default replaces nil, empty and false but not whitespace', async () => {
    expect(await render('[{{custom_attribute.${nope}}}]')).toEqual({ ok: true, text: '[]' });
    expect(await render("{{custom_attribute.${nope} | default: 'x'}}{{custom_attribute.${empty} | default: 'y'}}{{custom_attribute.${off} | default: 'z'}}[{{custom_attribute.${space} | default: 'w'}}]")).toEqual({
      ok: true,
      text: 'xyz[ ]',
    });
  });

  it('rewrites references without moving any other character', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_][a-z0-9_ ]{0,12}$/), fc.string({ maxLength: 20 }), (name, tail) => {
        const source = `{{custom_attribute.\${${name}}}}\n${tail.replace(/[{}$]/g, '')}`;
        const { text } = rewriteBrazeReferences(source);
        expect(text.length).toBe(source.length);
        expect(text.slice(text.indexOf('\n'))).toBe(source.slice(source.indexOf('\n')));
      }),
    );
  });
});

describe('checking a template when it is saved', () => {
  it('names the line and column of a syntax error', () => {
    const result = compileTemplate('Hello\n  {% if ${first_name} %}\n{{ ${first_name} }}');
    expect(result.problems?.[0]).toMatchObject({ line: 2, column: 3 });
    expect(result.problems?.[0]?.message).toMatch(/not closed|endif/i);
    expect(compileTemplate('x\n\n   {{ ${first_name} | no_such_filter }}').problems?.[0]).toMatchObject({ line: 3, column: 4, message: expect.stringMatching(/no_such_filter/) });
  });

  it('refuses what Rivulet cannot render, with where it is', () => {
    const result = compileTemplate("ok\n{% connected_content https://x.example :save r %}\n{{content_blocks.${footer}}}");
    expect(result.problems).toEqual([
      { line: 2, column: 1, message: expect.stringMatching(/Connected Content/) },
      { line: 3, column: 1, message: expect.stringMatching(/Content Blocks/) },
    ]);
    expect(compileTemplate('{% abort_message(no_quotes) %}').problems?.[0]?.message).toMatch(/quoted reason/);
    expect(compileTemplate('x'.repeat(MAX_TEMPLATE_CHARS + 1)).problems?.[0]?.message).toMatch(/at most/);
  });
});

describe('aborts', () => {
  it('ends the render with the reason of abort_message, or its default, at most 128 characters', async () => {
    expect(await render("{% if custom_attribute.${plan} == 'pro' %}{% abort_message('already pro') %}{% endif %}hi")).toEqual({ ok: false, abortType: 'liquid_abort_message', abortLog: 'already pro' });
    expect(await render('{% abort_message %}')).toEqual({ ok: false, abortType: 'liquid_abort_message', abortLog: '{% abort_message %} called' });
    const long = await render(`{% abort_message('${'r'.repeat(300)}') %}`);
    expect(long.ok === false && long.abortLog.length).toBe(128);
  });

  it('turns a runtime error into template_parse_error instead of throwing', async () => {
    const out = await render('{% for i in (1..100000000) %}{{ i }}{% endfor %}');
    expect(out).toMatchObject({ ok: false, abortType: 'template_parse_error' });
  });
});

describe('Braze filters', () => {
  it('escape, access, delimit and hash', async () => {
    expect(await render(`{{ 'a"b\\\\c' | json_escape }}|{{ 'a b&c' | url_param_escape }}|{{ 'https://x.example/a b' | url_escape }}`)).toEqual({
      ok: true,
      text: 'a\\"b\\\\c|a%20b%26c|https://x.example/a%20b',
    });
    expect(await render(`{{ custom_attribute.\${address} | property_accessor: 'city' }}|{{ 1234567.5 | number_with_delimiter }}|{{ 'x' | md5 }}`)).toEqual({
      ok: true,
      text: 'Marylebone|1,234,567.5|9dd4e461268c8034f5c8564e155c67a6',
    });
    expect(BRAZE_FILTERS.sha2!('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    expect(BRAZE_FILTERS.hmac_sha1!('msg', 'key')).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('random_bucket_number', () => {
  it('is stable per user and within 0–9999', () => {
    fc.assert(fc.property(fc.uuid(), (id) => {
      const n = randomBucketNumber(id);
      expect(n).toBe(randomBucketNumber(id));
      expect(n >= 0 && n < 10_000).toBe(true);
    }));
  });
});
