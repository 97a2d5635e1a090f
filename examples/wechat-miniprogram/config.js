// Where this app sends business requests and telemetry. A third-party platform (or the simulator)
// overrides them through ext.json, read with wx.getExtConfigSync().
const ext = typeof wx.getExtConfigSync === 'function' ? wx.getExtConfigSync() : {};

module.exports = {
  apiBaseUrl: ext.apiBaseUrl || 'https://api.example.com',
  otelEndpoint: ext.otelEndpoint || 'https://otel.example.com',
};
