// Strings as WeChat's engine and the receiver see them: UTF-8 sizes without TextEncoder, and truncation
// that never splits a surrogate pair (half an emoji is a lone surrogate: invalid UTF-8 on the wire).

const NON_ASCII = /[\u0080-\uffff]/;

/** Byte length of a string once UTF-8 encoded, without allocating. */
export function utf8Length(text: string): number {
  let n = text.length;
  if (!NON_ASCII.test(text)) return n; // the usual case, scanned natively
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      n += 2; // a pair: 2 units → 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** At most `max` UTF-16 units of `text`, cut on a code-point boundary. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last < 0xdc00 ? max - 1 : max);
}

const BYTE_HEX: string[] = [];
for (let i = 0; i < 256; i++) BYTE_HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Hex digits from Math.random (no crypto in WeChat's engine), 8 at a time from 32-bit integers. */
export function randomHex(length: number): string {
  let out = '';
  while (out.length < length) {
    const n = (Math.random() * 0x100000000) >>> 0;
    out +=
      BYTE_HEX[n >>> 24]! + BYTE_HEX[(n >>> 16) & 255]! + BYTE_HEX[(n >>> 8) & 255]! + BYTE_HEX[n & 255]!;
  }
  return out.length === length ? out : out.slice(0, length);
}
