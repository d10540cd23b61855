// Searching outputs for raw identifiers in every encoding we can think of (MIN-1): a leak is a leak
// whether it is hex, upper-case hex, base64, base64url, a decimal byte list, a colon-separated MAC or
// a UUID with or without dashes.

export type Secret = { what: string; value: string };

/** The encodings of some bytes that a careless log line, JSON field or database column might hold. */
export function encodingsOf(what: string, bytes: Uint8Array): Secret[] {
  const buffer = Buffer.from(bytes);
  const forms = [buffer.toString('hex'), buffer.toString('hex').toUpperCase(), buffer.toString('base64'), buffer.toString('base64url'), [...buffer].join(',')];
  // Very short values (a 2-byte major) would match by chance anywhere; they are checked inside longer identifiers.
  return [...new Set(forms)].filter((form) => form.length >= 8).map((value) => ({ what, value }));
}

/** A Bluetooth address as printed (aa:bb:…), in both cases, and as bytes. */
export function addressForms(address: string): Secret[] {
  const hex = address.replaceAll(':', '');
  return [
    { what: 'MAC', value: address.toLowerCase() },
    { what: 'MAC', value: address.toUpperCase() },
    { what: 'MAC', value: address.toLowerCase().replaceAll(':', '-') },
    ...encodingsOf('MAC', Buffer.from(hex, 'hex')),
  ];
}

/** A hex identifier, or a UUID with dashes, in all its forms. */
export function identifierForms(what: string, value: string): Secret[] {
  const hex = value.replaceAll('-', '').toLowerCase();
  const dashed = value.includes('-') ? [{ what, value: value.toLowerCase() }, { what, value: value.toUpperCase() }] : [];
  return [...dashed, ...encodingsOf(what, Buffer.from(hex, 'hex'))];
}

/** The secrets that occur anywhere in the corpus. */
export function findLeaks(corpus: readonly string[], secrets: readonly Secret[]): Secret[] {
  const haystack = corpus.join('\n');
  return secrets.filter((secret) => haystack.includes(secret.value));
}
