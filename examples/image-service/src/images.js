// Magic-byte sniffing: an upload is an image only if its first bytes say so (the client's Content-Type is
// not trusted).
const SIGNATURES = [
  {
    type: 'image/jpeg',
    ext: 'jpg',
    test: (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  },
  {
    type: 'image/png',
    ext: 'png',
    test: (b) =>
      b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  },
  {
    type: 'image/gif',
    ext: 'gif',
    test: (b) => b.length >= 6 && /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1')),
  },
  {
    type: 'image/webp',
    ext: 'webp',
    test: (b) =>
      b.length >= 12 &&
      b.subarray(0, 4).toString('latin1') === 'RIFF' &&
      b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
  {
    type: 'image/heic',
    ext: 'heic',
    test: (b) =>
      b.length >= 12 &&
      b.subarray(4, 8).toString('latin1') === 'ftyp' &&
      ['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(b.subarray(8, 12).toString('latin1')),
  },
];

/** Bytes needed before a decision can be made. */
export const SNIFF_BYTES = 12;

/** @returns {{ type: string, ext: string } | undefined} */
export function sniffImage(head) {
  for (const s of SIGNATURES) if (s.test(head)) return { type: s.type, ext: s.ext };
  return undefined;
}

export const EXTENSIONS = SIGNATURES.map((s) => ({ ext: s.ext, type: s.type }));
