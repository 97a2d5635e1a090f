// What OpenTelemetry JS expects from a browser but WeChat's JS engine does not guarantee.
// The build injects these in place of the free identifiers `performance`, `TextEncoder` and `TextDecoder`
// inside the bundle (esbuild `inject`), so the host app's globals are never touched.

const timeOrigin = Date.now();

/** Millisecond clock; WeChat devices have no global `performance`. */
export const performance = {
  timeOrigin,
  now: (): number => Date.now() - timeOrigin,
};

/** UTF-8 encode (a string of UTF-16 code units to bytes). */
export function utf8Encode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    } else if (c >= 0xd800 && c < 0xe000) {
      c = 0xfffd; // lone surrogate
    }
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(bytes);
}

/** UTF-8 decode of well-formed input (what utf8Encode produced). */
export function utf8Decode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i++]!;
    let c = b;
    if (b >= 0xf0) c = ((b & 7) << 18) | ((bytes[i++]! & 63) << 12) | ((bytes[i++]! & 63) << 6) | (bytes[i++]! & 63);
    else if (b >= 0xe0) c = ((b & 15) << 12) | ((bytes[i++]! & 63) << 6) | (bytes[i++]! & 63);
    else if (b >= 0xc0) c = ((b & 31) << 6) | (bytes[i++]! & 63);
    if (c >= 0x10000) {
      c -= 0x10000;
      out += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
    } else out += String.fromCharCode(c);
  }
  return out;
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

export class TextEncoder {
  encode(text = ''): Uint8Array {
    return utf8Encode(text);
  }
}

export class TextDecoder {
  decode(bytes?: Uint8Array): string {
    return bytes ? utf8Decode(bytes) : '';
  }
}
