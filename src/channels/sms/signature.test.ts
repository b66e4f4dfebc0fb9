/** Twilio's request signature against a published vector (a voice webhook from Twilio's own validator tests). */
import { describe, expect, it } from 'vitest';
import { signTwilio } from '../../emulator/twilio/index.js';
import { formParams, keywordAction, statusEventType, twilioSignature, verifyTwilioSignature } from './index.js';

const token = '2bd9e9638872de601313dc77410d3b23';
const url = 'http://twiliotests.heroku.com/validate/voice';
const params: Record<string, string> = {
  ToState: 'California', CalledState: 'California', Direction: 'inbound', FromState: 'CA', AccountSid: 'ACba8bc05eacf94afdae398e642c9cc32d',
  Caller: '+14153595711', CallerZip: '94108', CallerCountry: 'US', From: '+14153595711', FromCity: 'SAN FRANCISCO', CallerCity: 'SAN FRANCISCO',
  To: '+14157669926', FromZip: '94108', FromCountry: 'US', ToCity: '', CallStatus: 'ringing', CalledCity: '', CallerState: 'CA', CalledZip: '',
  ToZip: '', ToCountry: 'US', CallSid: 'CA136d09cd59a3c0ec8dbff44da5c03f31', CalledCountry: 'US', Called: '+14157669926', ApiVersion: '2010-04-01',
  ApplicationSid: 'AP44efecad51364e80b133bb7c07eb8204',
};

describe('X-Twilio-Signature', () => {
  it('matches the published example, in Rivulet and (independently) in the emulator', () => {
    expect(twilioSignature(token, url, params)).toBe('oVb2kXoVy8GEfwBDjR8bk/ZZ6eA=');
    expect(signTwilio(token, url, params)).toBe('oVb2kXoVy8GEfwBDjR8bk/ZZ6eA=');
    expect(verifyTwilioSignature(token, url, params, 'oVb2kXoVy8GEfwBDjR8bk/ZZ6eA=')).toBe(true);
  });

  it('refuses a missing signature, another token, another URL or a changed parameter', () => {
    const sig = twilioSignature(token, url, params);
    expect(verifyTwilioSignature(token, url, params, undefined)).toBe(false);
    expect(verifyTwilioSignature('another-token-0000', url, params, sig)).toBe(false);
    expect(verifyTwilioSignature(token, url + '?x=1', params, sig)).toBe(false);
    expect(verifyTwilioSignature(token, url, { ...params, CallStatus: 'completed' }, sig)).toBe(false);
    expect(verifyTwilioSignature(token, url, params, sig.slice(0, -2))).toBe(false);
  });

  it('parses form bodies keeping repeated names', () => {
    expect(formParams('a=1&b=x+y&a=2')).toEqual({ a: ['1', '2'], b: 'x y' });
  });
});

describe('statuses and keywords', () => {
  it('maps statuses to events', () => {
    expect(['queued', 'accepted', 'sending', 'sent', 'delivered', 'undelivered', 'failed'].map(statusEventType)).toEqual([undefined, undefined, undefined, 'CarrierSend', 'Delivery', 'DeliveryFailure', 'Rejection']);
  });
  it('recognises opt-out, opt-in and help keywords as the whole message, any case', () => {
    expect(['STOP', ' stop ', 'Unsubscribe', 'start', 'YES', 'help', 'stop please', ''].map(keywordAction)).toEqual(['Unsubscribed', 'Unsubscribed', 'Unsubscribed', 'Subscribed', 'Subscribed', 'Help', 'None', 'None']);
  });
});
