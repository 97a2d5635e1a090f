// Where this app sends business requests and telemetry, and the app's entry in catalog/catalog.yaml
// (apps[].keys, apps[].hosts). A third-party platform (or the simulator) overrides them through ext.json,
// read with wx.getExtConfigSync().
const ext = typeof wx.getExtConfigSync === 'function' ? wx.getExtConfigSync() : {};

const apiBaseUrl = ext.apiBaseUrl || 'https://api.example.com';
module.exports = {
  apiBaseUrl,
  otelEndpoint: ext.otelEndpoint || 'https://otel.example.com',
  // the public ingest key (catalog apps[].keys); an endpoint given by ext.json brings its own key, if any
  otelKey: ext.otelKey || (ext.otelEndpoint ? undefined : 'mpk_example_image_miniprogram_2026'),
  // trace context goes only to the app's own API hosts (catalog apps[].hosts)
  hosts: [apiBaseUrl.replace(/^[a-z]+:\/\//i, '').replace(/[/:?#].*$/, '')],
};
