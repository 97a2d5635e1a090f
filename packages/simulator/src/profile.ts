// A simulated phone's fingerprint, drawn from a scenario's mix: the same draw for the real SDK clients
// (simulate.ts) and the generated ones of a seed-scale replay (synthetic.ts).
import type { Fingerprint } from '@mp-otel/devkit';
import { type Dimension, pick, type Scenario } from './scenario.js';

export type Profile = Record<Dimension, string> & {
  ip: string;
  system: string;
  brand: string;
  model: string;
};

export type GeoRanges = Map<string, Array<{ ip_start: number; ip_end: number }>>;

const OS_DETAIL: Record<string, { system: (r: () => number) => string; brand: string; model: string }> = {
  ios: {
    system: (r) => `iOS ${pick({ '16.7.8': 2, '17.5.1': 5, '18.1': 3 }, r)}`,
    brand: 'iPhone',
    model: 'iPhone 15<iPhone15,4>',
  },
  android: {
    system: (r) => `Android ${pick({ '12': 2, '13': 4, '14': 4 }, r)}`,
    brand: 'HUAWEI',
    model: 'ALN-AL00',
  },
  ohos: { system: () => 'HarmonyOS 5.0.0', brand: 'HUAWEI', model: 'Mate 70' },
};

export function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function weightsFor(mix: Scenario['mix'], dim: Dimension, os: string): Record<string, number> | undefined {
  const w = mix[dim];
  if (!w) return undefined;
  return 'per_os' in w
    ? (w.per_os as Record<string, Record<string, number>>)[os]
    : (w as Record<string, number>);
}

/** IP ranges by `carrier|province`, to give each phone a public address of its carrier and province. */
export function geoRanges(
  ipRanges: Array<{ ip_start: number; ip_end: number; province: string; carrier: string }> = [],
): GeoRanges {
  const byGeo: GeoRanges = new Map();
  for (const r of ipRanges) {
    const key = `${r.carrier}|${r.province}`;
    (byGeo.get(key) ?? byGeo.set(key, []).get(key)!).push(r);
  }
  return byGeo;
}

export function drawProfile(mix: Scenario['mix'], random: () => number, byGeo: GeoRanges): Profile {
  const os = pick(mix['os.name'], random);
  const value = (dim: Dimension, fallback: string) => {
    const w = weightsFor(mix, dim, os);
    return w ? pick(w, random) : fallback;
  };
  const detail = OS_DETAIL[os] ?? OS_DETAIL.android!;
  const carrier = value('carrier', '');
  const province = value('province', '');
  const ranges = byGeo.get(`${carrier}|${province}`) ?? [];
  const range = ranges[Math.floor(random() * ranges.length)];
  return {
    'os.name': os,
    'mp.base_library.version': value('mp.base_library.version', '3.4.10'),
    'mp.host.version': value('mp.host.version', '8.0.50'),
    'service.version': value('service.version', '1.4.2'),
    'network.type': value('network.type', 'wifi'),
    carrier,
    province,
    'host.name': '',
    ip: range ? ipString(range.ip_start + Math.floor(random() * (range.ip_end - range.ip_start + 1))) : '',
    system: detail.system(random),
    brand: detail.brand,
    model: detail.model,
  };
}

/** What the phone's wx APIs answer (the shim's fingerprint): the SDK's resource comes from these. */
export function wxFingerprint(p: Profile, appId: string): Fingerprint {
  return {
    platform: p['os.name'],
    system: p.system,
    brand: p.brand,
    model: p.model,
    version: p['mp.host.version'],
    SDKVersion: p['mp.base_library.version'],
    appVersion: p['service.version'],
    appId,
    envVersion: 'release',
    networkType: p['network.type'],
  };
}
