// Secrets out of url.full: userinfo, secret-looking query and fragment parameters (the signed-URL schemes
// of Tencent COS, Alibaba OSS, Qiniu and AWS, OAuth codes and tokens, keys, sessions, contact details) and
// personal data in the path (mobile numbers, e-mail addresses, JWTs). Replaced by REDACTED, as the
// OpenTelemetry semantic conventions for url.full ask. No `URL` class: WeChat's engine has none.

/**
 * Parameter names whose values are secret:
 * tokens (access_token, x-amz-security-token, x-cos-security-token, Qiniu's token), signatures
 * (q-signature, x-amz-signature, x-oss-signature, Signature, sign, sig), credentials and access keys
 * (x-amz-credential, x-oss-credential, q-ak, OSSAccessKeyId, AWSAccessKeyId), passwords and secrets,
 * OAuth `code`, api keys, auth, sessions, tickets, WeChat openid/unionid, e-mail, phone, id cards.
 */
export const DEFAULT_SECRET_PARAMS =
  /^(.*token|.*secret|.*signature|.*credential|.*passw(or)?d|pwd|sign|sig|q-ak|.*access_?key(_?id)?|code|api_?key|auth(orization)?|session_?(id|key)|ticket|openid|unionid|e_?mail|.*phone(_?number)?|mobile|id_?card)$/i;

const PARTS = /^([a-z][a-z0-9+.-]*:\/\/)?([^/?#]*@)?([^?#]*)(\?[^#]*)?(#.*)?$/i;
/** A mainland-China mobile number (optionally +86), not part of a longer digit run. */
const MOBILE = /(^|\D)((\+|%2B)?86[- ]?)?1[3-9]\d{9}(?!\d)/g;
const EMAIL = /[^/?#@]+(@|%40)[^/?#@.]+\.[^/?#@]+/g;
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const SUSPECT_PATH = /@|%40|\d{11}|eyJ/;

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function scrubParams(params: string, secret: RegExp): string {
  return params
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq > 0 && secret.test(safeDecode(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=REDACTED` : pair;
    })
    .join('&');
}

export function scrubPath(path: string): string {
  if (!SUSPECT_PATH.test(path)) return path;
  return path
    .replace(JWT, 'REDACTED')
    .replace(EMAIL, 'REDACTED')
    .replace(MOBILE, (_m, before: string) => `${before}REDACTED`);
}

/** url with secrets replaced by REDACTED; `secret` matches parameter names. */
export function scrubUrl(url: string, secret: RegExp): string {
  const m = PARTS.exec(url);
  if (!m) return url;
  const [, scheme = '', userinfo, path = '', query, fragment] = m;
  let out = scheme;
  if (userinfo) out += userinfo.indexOf(':') >= 0 ? 'REDACTED:REDACTED@' : 'REDACTED@';
  // the host stays (server.address); only what follows its first slash is scanned for personal data
  const slash = scheme ? path.indexOf('/') : 0;
  out += slash < 0 ? path : path.slice(0, slash) + scrubPath(path.slice(slash));
  if (query) out += `?${scrubParams(query.slice(1), secret)}`;
  if (fragment) out += fragment.indexOf('=') >= 0 ? `#${scrubParams(fragment.slice(1), secret)}` : fragment;
  return out;
}
