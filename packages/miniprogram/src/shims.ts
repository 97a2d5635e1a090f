// What OpenTelemetry JS expects from a browser but WeChat's JS engine does not guarantee.
// The build injects these in place of the free identifiers `performance` and `TextEncoder`
// inside the bundle (esbuild `inject`), so the host app's globals are never touched.

const timeOrigin = Date.now();

/** Millisecond clock; WeChat devices have no global `performance`. */
export const performance = {
  timeOrigin,
  now: (): number => Date.now() - timeOrigin,
};

/** UTF-8 encode (a string of UTF-16 code units to bytes), sized first so it writes into one buffer. */
export function utf8Encode(text: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(text));
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else c = 0xfffd; // lone surrogate
    } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    if (c < 0x80) bytes[at++] = c;
    else if (c < 0x800) {
      bytes[at++] = 0xc0 | (c >> 6);
      bytes[at++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      bytes[at++] = 0xe0 | (c >> 12);
      bytes[at++] = 0x80 | ((c >> 6) & 63);
      bytes[at++] = 0x80 | (c & 63);
    } else {
      bytes[at++] = 0xf0 | (c >> 18);
      bytes[at++] = 0x80 | ((c >> 12) & 63);
      bytes[at++] = 0x80 | ((c >> 6) & 63);
      bytes[at++] = 0x80 | (c & 63);
    }
  }
  return bytes;
}

/** Byte length of a string once UTF-8 encoded, without allocating. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The bytes remember the string they came from, so the queue can store the payload without decoding. */
export class TextEncoder {
  encode(text = ''): Uint8Array {
    const bytes = utf8Encode(text);
    (bytes as Uint8Array & { text?: string }).text = text;
    return bytes;
  }
}
