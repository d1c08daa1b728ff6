// A/B testing with a sticky cookie: a visitor keeps the variant they were first given.
const COOKIE = 'ab-variant';

export function chooseVariant(request, split) {
  const cookie = request.headers.get('cookie') ?? '';
  const match = cookie.match(new RegExp(`(?:^|;\\s*)${COOKIE}=(control|treatment)`));
  if (match) return { variant: match[1], fresh: false };
  const roll = crypto.getRandomValues(new Uint8Array(1))[0] / 256;
  return { variant: roll * 100 < split ? 'treatment' : 'control', fresh: true };
}

export function variantCookie(variant) {
  return `${COOKIE}=${variant}; Path=/; Max-Age=2592000; SameSite=Lax`;
}
