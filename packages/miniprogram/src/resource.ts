// Resource attributes: who is running the app, on what. These are the fingerprint dimensions that the
// diagnosis groups by (os.name × mp.base_library.version is the seed incident's culprit).
import type { Attributes } from '@opentelemetry/api';
import { call, type Platform } from './platform.js';

export const DISTRO_NAME = 'mp-otel';
declare const __MP_OTEL_VERSION__: string;
export const DISTRO_VERSION = typeof __MP_OTEL_VERSION__ === 'string' ? __MP_OTEL_VERSION__ : '0.0.0';

/** A short stable hash (53 bits, base36) of a string: cyrb53, public domain. */
export function shortHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

export interface ResourceOptions {
  serviceName: string;
  serviceVersion?: string;
  environment?: string;
  attributes?: Attributes;
}

/**
 * Reads getAppBaseInfo / getDeviceInfo / getAccountInfoSync (base library ≥ 2.20.1), falling back to the
 * deprecated getSystemInfoSync on older base libraries and on other platforms.
 */
export function detectResourceAttributes(platform: Platform, options: ResourceOptions): Attributes {
  const api = platform.api;
  const base = call(api, 'getAppBaseInfo') || {};
  const device = call(api, 'getDeviceInfo') || {};
  const system = base.SDKVersion && device.platform ? {} : call(api, 'getSystemInfoSync') || {};
  const miniProgram = (call(api, 'getAccountInfoSync') || {}).miniProgram || {};
  const systemText = String(device.system || system.system || '');
  const osVersion = (systemText.match(/\d+(\.\d+)*/) || [''])[0];
  const appVersion = options.serviceVersion || miniProgram.version || '';
  const hostVersion = String(base.version || system.version || '');
  const baseLibrary = String(base.SDKVersion || system.SDKVersion || api.SDKVersion || '');
  const appId = String(miniProgram.appId || '');
  const attributes: Attributes = {
    'service.name': options.serviceName,
    'service.version': appVersion,
    'deployment.environment.name': options.environment || miniProgram.envVersion || 'release',
    'telemetry.distro.name': DISTRO_NAME,
    'telemetry.distro.version': DISTRO_VERSION,
    'os.name': String(device.platform || system.platform || '').toLowerCase(),
    'os.version': osVersion,
    'device.manufacturer': String(device.brand || system.brand || ''),
    'device.model.name': String(device.model || system.model || ''),
    'mp.platform': platform.name,
    'mp.app_id': appId,
    'mp.host.version': hostVersion,
    'mp.base_library.version': baseLibrary,
    'mp.fingerprint': shortHash([platform.name, appVersion, hostVersion, baseLibrary, appId].join('|')),
  };
  return { ...attributes, ...options.attributes };
}

/** A user id as telemetry carries it when hashing is asked for: two salted cyrb53 halves (106 bits).
 * Not a cryptographic hash: it keeps raw ids out of telemetry; a salt keeps enumerable ids from being
 * reversed by hashing every candidate. */
export function hashUserId(id: string, salt = ''): string {
  return shortHash(`${salt}|${id}`) + shortHash(`${id}|${salt}`);
}
