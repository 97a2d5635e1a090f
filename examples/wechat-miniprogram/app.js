// The one call, before App(): everything else (request spans, trace headers, errors, page views,
// the offline queue) follows from it.
const { init } = require('@mp-otel/miniprogram');
const config = require('./config');

const otel = init({
  serviceName: 'image-miniprogram',
  endpoint: config.otelEndpoint,
  key: config.otelKey,
  hosts: config.hosts,
  // Catalog routes (catalog/catalog.yaml): name the spans the way the gateway and dashboards do.
  routes: [
    { name: 'upload.image', method: 'POST', url: /\/upload(\?|$)/ },
    { name: 'download.image', method: 'GET', url: /\/images\/[^/?]+/ },
  ],
});

App({
  globalData: { otel },
  onLaunch() {},
});
