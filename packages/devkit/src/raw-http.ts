// One HTTP request with headers fetch() will not send as given (Host, Origin, Sec-Fetch-Site): for the
// tests of DNS-rebinding and cross-site checks.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  body: string;
}

export function rawRequest(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
