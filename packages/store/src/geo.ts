// IP → province / city / ISP from the ip2region database shipped inside the npm package `ip2region`
// (data/ip2region.db, the v1 block format: super block, index blocks of 12 bytes [start ip, end ip,
// data pointer], data records "country|region|province|city|isp"). Loaded into <db>.mp_ip_geo (through
// @clickhouse/client) so that the SLI cube's materialized view resolves geo in SQL, the same way
// whether spans arrive through the collector or the embedded receiver.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ClickHouseClient } from '@clickhouse/client';

const require = createRequire(import.meta.url);

export interface GeoRow {
  ip_start: number;
  ip_end: number;
  country: string;
  province: string;
  city: string;
  isp: string;
  carrier: string;
}

export function ip2regionDbPath(): string {
  return require.resolve('ip2region/data/ip2region.db');
}

/** China's carriers, normalised (telecom / unicom / mobile / cernet); '' when unknown, other otherwise. */
export function normaliseCarrier(isp: string): string {
  if (isp === '') return '';
  if (isp.includes('电信')) return 'telecom';
  if (isp.includes('联通') || isp.includes('网通')) return 'unicom';
  if (isp.includes('移动') || isp.includes('铁通')) return 'mobile';
  if (isp.includes('教育网')) return 'cernet';
  return 'other';
}

export function* readIp2Region(file = ip2regionDbPath()): Generator<GeoRow> {
  const buf = readFileSync(file);
  const first = buf.readUInt32LE(0);
  const last = buf.readUInt32LE(4);
  if (first === 0 || last < first || (last - first) % 12 !== 0 || last + 12 > buf.length) {
    throw new Error(`${file}: not an ip2region v1 database`);
  }
  const cache = new Map<number, Omit<GeoRow, 'ip_start' | 'ip_end'>>();
  for (let p = first; p <= last; p += 12) {
    const ptr = buf.readUInt32LE(p + 8);
    const len = (ptr >>> 24) & 0xff;
    const off = ptr & 0xffffff;
    let region = cache.get(off);
    if (region === undefined) {
      const parts = buf
        .toString('utf8', off + 4, off + len)
        .split('|')
        .map((x) => (x === '0' ? '' : x));
      const isp = parts[4] ?? '';
      region = {
        country: parts[0] ?? '',
        province: parts[2] ?? '',
        city: parts[3] ?? '',
        isp,
        carrier: normaliseCarrier(isp),
      };
      cache.set(off, region);
    }
    yield { ip_start: buf.readUInt32LE(p), ip_end: buf.readUInt32LE(p + 4), ...region };
  }
}

/** Approximate coordinates of each province-level division's capital (for map panels). */
export const PROVINCES: [string, string, number, number][] = [
  ['北京', 'Beijing', 39.9042, 116.4074],
  ['天津', 'Tianjin', 39.3434, 117.3616],
  ['河北省', 'Hebei', 38.0428, 114.5149],
  ['山西省', 'Shanxi', 37.8706, 112.5489],
  ['内蒙古', 'Inner Mongolia', 40.8426, 111.749],
  ['辽宁省', 'Liaoning', 41.8057, 123.4315],
  ['吉林省', 'Jilin', 43.8171, 125.3235],
  ['黑龙江省', 'Heilongjiang', 45.8038, 126.535],
  ['上海', 'Shanghai', 31.2304, 121.4737],
  ['江苏省', 'Jiangsu', 32.0603, 118.7969],
  ['浙江省', 'Zhejiang', 30.2741, 120.1551],
  ['安徽省', 'Anhui', 31.8206, 117.2272],
  ['福建省', 'Fujian', 26.0745, 119.2965],
  ['江西省', 'Jiangxi', 28.682, 115.8579],
  ['山东省', 'Shandong', 36.6512, 117.1201],
  ['河南省', 'Henan', 34.7466, 113.6254],
  ['湖北省', 'Hubei', 30.5928, 114.3055],
  ['湖南省', 'Hunan', 28.2282, 112.9388],
  ['广东省', 'Guangdong', 23.1291, 113.2644],
  ['广西', 'Guangxi', 22.817, 108.3665],
  ['海南省', 'Hainan', 20.044, 110.1999],
  ['重庆', 'Chongqing', 29.563, 106.5516],
  ['四川省', 'Sichuan', 30.5728, 104.0668],
  ['贵州省', 'Guizhou', 26.647, 106.6302],
  ['云南省', 'Yunnan', 25.0389, 102.7183],
  ['西藏', 'Tibet', 29.65, 91.1],
  ['陕西省', 'Shaanxi', 34.3416, 108.9398],
  ['甘肃省', 'Gansu', 36.0611, 103.8343],
  ['青海省', 'Qinghai', 36.6171, 101.7782],
  ['宁夏', 'Ningxia', 38.4872, 106.2309],
  ['新疆', 'Xinjiang', 43.8256, 87.6168],
  ['台湾省', 'Taiwan', 25.033, 121.5654],
  ['香港', 'Hong Kong', 22.3193, 114.1694],
  ['澳门', 'Macau', 22.1987, 113.5439],
];

/**
 * Loads ip2region into <db>.mp_ip_geo (skipped when it already holds the same number of ranges unless
 * force) and reloads the range dictionary. Returns the number of ranges.
 */
export async function loadGeoIntoClickHouse(
  client: ClickHouseClient,
  database = 'otel',
  force = false,
): Promise<number> {
  const rows = [...readIp2Region()];
  const rs = await client.query({
    query: `SELECT count() AS n FROM ${database}.mp_ip_geo`,
    format: 'JSONEachRow',
  });
  const have = Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  if (force || have !== rows.length) {
    await client.command({ query: `TRUNCATE TABLE ${database}.mp_ip_geo` });
    const chunk = 100_000;
    for (let i = 0; i < rows.length; i += chunk) {
      await client.insert({
        table: `${database}.mp_ip_geo`,
        values: rows.slice(i, i + chunk),
        format: 'JSONEachRow',
      });
    }
    await client.command({ query: `TRUNCATE TABLE ${database}.mp_geo_province` });
    await client.insert({
      table: `${database}.mp_geo_province`,
      values: PROVINCES.map(([province, province_en, lat, lon]) => ({ province, province_en, lat, lon })),
      format: 'JSONEachRow',
    });
  }
  await client.command({ query: `SYSTEM RELOAD DICTIONARY ${database}.mp_ip_geo_dict` });
  return rows.length;
}
