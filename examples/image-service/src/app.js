// The image service's request handler: plain node:http + busboy, no framework.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sendError, setHttpRoute, trackImageTransfer } from '@mp-otel/node';
import busboy from 'busboy';
import { EXTENSIONS, SNIFF_BYTES, sniffImage } from './images.js';

export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const ID_RE = /^[0-9a-f]{32}$/;

/**
 * @param {{ storageDir: string, maxUploadBytes?: number }} options
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void}
 */
export function createApp({ storageDir, maxUploadBytes = MAX_UPLOAD_BYTES }) {
  const ready = mkdir(storageDir, { recursive: true });

  return function handle(req, res) {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/upload') {
      setHttpRoute('/upload');
      trackImageTransfer(req, res, { direction: 'upload', route: '/upload' });
      if (req.method !== 'POST') return void sendError(res, 'METHOD_NOT_ALLOWED');
      ready.then(() => upload(req, res, storageDir, maxUploadBytes)).catch((err) => fail(res, err));
      return;
    }
    const m = /^\/images\/([^/]+)$/.exec(path);
    if (m) {
      setHttpRoute('/images/:id');
      trackImageTransfer(req, res, { direction: 'download', route: '/images/:id' });
      if (req.method !== 'GET' && req.method !== 'HEAD') return void sendError(res, 'METHOD_NOT_ALLOWED');
      download(m[1], res, storageDir).catch((err) => fail(res, err));
      return;
    }
    sendError(res, 'NOT_FOUND', `no route for ${req.method} ${path}`);
  };
}

function fail(res, err) {
  console.error('image-service: internal error', err?.message ?? err);
  sendError(res, 'INTERNAL');
}

async function download(id, res, storageDir) {
  if (!ID_RE.test(id)) return void sendError(res, 'NOT_FOUND', 'no such image');
  for (const { ext, type } of EXTENSIONS) {
    const file = join(storageDir, `${id}.${ext}`);
    let info;
    try {
      info = await stat(file);
    } catch {
      continue;
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': info.size,
      'cache-control': 'public, max-age=31536000, immutable',
    });
    if (res.req.method === 'HEAD') return void res.end();
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    return;
  }
  sendError(res, 'NOT_FOUND', 'no such image');
}

function upload(req, res, storageDir, maxUploadBytes) {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type)) {
    return void sendError(res, 'UNSUPPORTED_MEDIA_TYPE', 'expected multipart/form-data with a `file` field');
  }
  let bb;
  try {
    bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxUploadBytes } });
  } catch (err) {
    return void sendError(res, 'BAD_REQUEST', err.message);
  }

  let settled = false;
  let tmpPath;
  let out;
  /** @type {Promise<{ id: string, kind: { type: string, ext: string }, size: number }> | undefined} */
  let stored;

  const finish = (code, message, ok) => {
    if (settled) return;
    settled = true;
    if (code) {
      out?.destroy();
      if (tmpPath) unlink(tmpPath).catch(() => {});
      // Stop parsing; drain (discard) the rest of the body so the connection stays usable.
      req.unpipe(bb);
      req.resume();
      sendError(res, code, message);
    } else {
      const body = JSON.stringify(ok);
      res
        .writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        .end(body);
    }
  };

  // An announced body far above the limit is refused before reading it.
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxUploadBytes + 64 * 1024) {
    return void finish('IMAGE_TOO_LARGE', `limit is ${maxUploadBytes} bytes`);
  }

  bb.on('file', (name, file) => {
    if (name !== 'file' || stored) {
      file.on('error', () => {});
      return void file.resume();
    }
    const id = randomBytes(16).toString('hex');
    stored = new Promise((resolve, reject) => {
      let head = Buffer.alloc(0);
      const pending = [];
      let kind;
      let size = 0;
      const open = () => {
        kind = sniffImage(head);
        if (!kind) return false;
        tmpPath = join(storageDir, `${id}.${kind.ext}.part`);
        out = createWriteStream(tmpPath);
        out.on('error', (err) => finish('STORAGE_UNAVAILABLE', err.message));
        for (const c of pending.splice(0)) out.write(c);
        return true;
      };
      const notImage = () =>
        finish('UNSUPPORTED_MEDIA_TYPE', 'the file is not a JPEG, PNG, GIF, WebP or HEIC image');
      file.on('data', (chunk) => {
        if (settled) return;
        size += chunk.length;
        if (!out) {
          head = head.length < SNIFF_BYTES ? Buffer.concat([head, chunk]) : head;
          pending.push(chunk);
          if (head.length >= SNIFF_BYTES && !open()) notImage();
          return;
        }
        if (!out.write(chunk)) {
          file.pause();
          out.once('drain', () => file.resume());
        }
      });
      file.on('limit', () => finish('IMAGE_TOO_LARGE', `limit is ${maxUploadBytes} bytes`));
      // busboy also errors the part stream when the body ends mid-file ("Unexpected end of form").
      file.on('error', (err) => {
        finish(/unexpected end/i.test(err.message) ? 'UPLOAD_TRUNCATED' : 'BAD_REQUEST', err.message);
        reject(err);
      });
      file.on('end', () => {
        if (settled) return reject(new Error('settled'));
        if (!out && !open()) {
          notImage();
          return reject(new Error('settled'));
        }
        out.end(() => resolve({ id, kind, size }));
      });
    });
    stored.catch(() => {});
  });
  bb.on('error', (err) => {
    // busboy reports "Unexpected end of form" when the body stops before the closing boundary.
    finish(/unexpected end/i.test(err.message) ? 'UPLOAD_TRUNCATED' : 'BAD_REQUEST', err.message);
  });
  bb.on('close', async () => {
    if (settled) return;
    if (!stored) return finish('UPLOAD_MISSING_FILE', 'multipart field `file` is required');
    try {
      const { id, kind, size } = await stored;
      if (settled) return;
      await rename(tmpPath, join(storageDir, `${id}.${kind.ext}`));
      tmpPath = undefined;
      console.log(`stored image ${id} (${size} bytes, ${kind.type})`);
      finish(undefined, undefined, { id, url: `/images/${id}`, contentType: kind.type, size });
    } catch (err) {
      if (!settled) finish('STORAGE_UNAVAILABLE', err.message);
    }
  });
  req.on('aborted', () => finish('UPLOAD_TRUNCATED', 'client aborted the upload'));
  req.pipe(bb);
}
