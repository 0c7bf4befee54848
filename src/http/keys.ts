import crypto from 'node:crypto';

/** Prefix of every Quarry API key, so leaked keys are easy to recognise in logs and scans. */
export const KEY_PREFIX = 'qk_';

/** A new random API key (256 bits of entropy) with the values stored for it. */
export function generateApiKey(): { secret: string; prefix: string; secretHash: string } {
  const secret = KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
  return { secret, prefix: secret.slice(0, 10), secretHash: hashApiKey(secret) };
}

/**
 * Keys are long random strings, so a plain SHA-256 is enough to store them safely (a slow
 * password hash defends guessable secrets, which these are not) and lets the key be looked up
 * by its hash.
 */
export function hashApiKey(secret: string): string {
  return crypto.createHash('sha256').update(secret).digest('hex');
}

/** Reads the key from `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function keyFromHeaders(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const auth = headers['authorization'];
  const value = Array.isArray(auth) ? auth[0] : auth;
  if (value) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
    return m ? m[1] : undefined;
  }
  const x = headers['x-api-key'];
  return (Array.isArray(x) ? x[0] : x) || undefined;
}
