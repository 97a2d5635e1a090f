// GENERATED from telemetry-names.yaml by scripts/generate-names.mjs — do not edit.
// The telemetry names every runtime uses (see telemetry-names.yaml for the rules).

/** the app (mini-program) or service name (resource). */
export const ATTR_SERVICE_NAME = 'service.name';
/** mini-program version (client) or service version (resource). */
export const ATTR_SERVICE_VERSION = 'service.version';
/** develop | trial | release (client), or the deployment's environment (resource). */
export const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = 'deployment.environment.name';
/** mp-otel (resource). */
export const ATTR_TELEMETRY_DISTRO_NAME = 'telemetry.distro.name';
/** the distribution's version (resource). */
export const ATTR_TELEMETRY_DISTRO_VERSION = 'telemetry.distro.version';
/** ios | android | ohos | windows | mac | devtools (resource). */
export const ATTR_OS_NAME = 'os.name';
/** the OS version the host reports (resource). */
export const ATTR_OS_VERSION = 'os.version';
/** device brand (resource). */
export const ATTR_DEVICE_MANUFACTURER = 'device.manufacturer';
/** device model (resource). */
export const ATTR_DEVICE_MODEL_NAME = 'device.model.name';
/** backend node (the cube's BackendNode) (resource). */
export const ATTR_HOST_NAME = 'host.name';
/** new on cold start and after the session timeout in the background (resource). */
export const ATTR_SESSION_ID = 'session.id';
/** the client's IP (set at the edge from the socket or a trusted proxy) (span, log, resource). */
export const ATTR_CLIENT_ADDRESS = 'client.address';
/** host of the requested URL (span). */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** port of the requested URL (span). */
export const ATTR_SERVER_PORT = 'server.port';
/** the requested URL, secrets scrubbed (span). */
export const ATTR_URL_FULL = 'url.full';
/** the requested path (span). */
export const ATTR_URL_PATH = 'url.path';
/** HTTP method (span). */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
/** HTTP status (span). */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
/** the matched route template (Kong: the matched path) (span). */
export const ATTR_HTTP_ROUTE = 'http.route';
/** upload bytes (span). */
export const ATTR_HTTP_REQUEST_BODY_SIZE = 'http.request.body.size';
/** download bytes (span). */
export const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';
/** status code, or timeout | network | abort (span). */
export const ATTR_ERROR_TYPE = 'error.type';
/** exception class (log, span). */
export const ATTR_EXCEPTION_TYPE = 'exception.type';
/** exception message (log, span). */
export const ATTR_EXCEPTION_MESSAGE = 'exception.message';
/** stack trace as reported (log, span). */
export const ATTR_EXCEPTION_STACKTRACE = 'exception.stacktrace';
/** the log record's event name (exception) (log). */
export const ATTR_EVENT_NAME = 'event.name';
/** wifi | cell | unknown | none (span). */
export const ATTR_NETWORK_CONNECTION_TYPE = 'network.connection.type';
/** 2g | 3g | 4g | 5g (span). */
export const ATTR_NETWORK_CONNECTION_SUBTYPE = 'network.connection.subtype';
/** the User-Agent header (span). */
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';
/** business error code from the response (x-app-error-code) or the server (span). */
export const ATTR_APP_ERROR_CODE = 'app.error_code';
/** HTTP method (Kong, old instrumentations) (span). Legacy name. */
export const ATTR_HTTP_METHOD = 'http.method';
/** HTTP status (Kong, old instrumentations) (span). Legacy name. */
export const ATTR_HTTP_STATUS_CODE = 'http.status_code';
/** full URL (Kong) (span). Legacy name. */
export const ATTR_HTTP_URL = 'http.url';
/** path and query (old instrumentations) (span). Legacy name. */
export const ATTR_HTTP_TARGET = 'http.target';
/** the client's IP as Kong saw it (span). Legacy name. */
export const ATTR_HTTP_CLIENT_IP = 'http.client_ip';
/** User-Agent (old instrumentations) (span). Legacy name. */
export const ATTR_HTTP_USER_AGENT = 'http.user_agent';
/** wechat | alipay | bytedance | baidu | qq | dingtalk (resource). */
export const ATTR_MP_PLATFORM = 'mp.platform';
/** the platform's app id (resource). */
export const ATTR_MP_APP_ID = 'mp.app_id';
/** the host app's version (WeChat version) (resource). */
export const ATTR_MP_HOST_VERSION = 'mp.host.version';
/** the base library version (SDKVersion) (resource). */
export const ATTR_MP_BASE_LIBRARY_VERSION = 'mp.base_library.version';
/** short stable hash of platform, app version, host version, base library, app id; on backend spans from baggage (resource, span). */
export const ATTR_MP_FINGERPRINT = 'mp.fingerprint';
/** the catalog route (client rules, Kong's route, the collector's mapping) (span). */
export const ATTR_MP_ROUTE_NAME = 'mp.route_name';
/** the catalog route's business (Kong) (span). */
export const ATTR_MP_BUSINESS = 'mp.business';
/** the catalog route's department (Kong) (span). */
export const ATTR_MP_DEPARTMENT = 'mp.department';
/** the mini-program page active at the time (span, log). */
export const ATTR_MP_PAGE_ROUTE = 'mp.page.route';
/** the previous page of a page view (span). */
export const ATTR_MP_PAGE_REFERRER = 'mp.page.referrer';
/** how the page was reached (navigateTo, redirectTo, …) (span). */
export const ATTR_MP_NAVIGATION_TYPE = 'mp.navigation.type';
/** request | uploadFile | downloadFile (span). */
export const ATTR_MP_REQUEST_API = 'mp.request.api';
/** how many real requests the stored span stands for (1/ratio; 1 for errors) (span). */
export const ATTR_MP_SAMPLING_WEIGHT = 'mp.sampling.weight';
/** onError | onUnhandledRejection | onPageNotFound | onMemoryWarning | captureException (log). */
export const ATTR_MP_ERROR_SOURCE = 'mp.error.source';
/** repeats of an identical error folded into this record (log). */
export const ATTR_MP_ERROR_COUNT = 'mp.error.count';
/** the SDK's persistent anonymous device id (UV), kept in wx storage (resource). */
export const ATTR_DEVICE_ID = 'device.id';
/** the app's user id, from otel.setUser (resource). */
export const ATTR_USER_ID = 'user.id';
/** the user id salted and hashed (setUser with hashing), instead of user.id (resource). */
export const ATTR_USER_HASH = 'user.hash';
/** websocket on WebSocket spans (span). */
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name';
/** the cloud function called (wx.cloud.callFunction) (span). */
export const ATTR_FAAS_INVOKED_NAME = 'faas.invoked_name';
/** tencent_cloud (wx.cloud) (span). */
export const ATTR_FAAS_INVOKED_PROVIDER = 'faas.invoked_provider';
/** the WeChat Cloud environment of a callFunction / callContainer (span). */
export const ATTR_MP_CLOUD_ENV = 'mp.cloud.env';
/** what happened before an exception, oldest first: "-1.234s <category> <message>" (log). */
export const ATTR_MP_BREADCRUMBS = 'mp.breadcrumbs';
/** the framework's note on where an error was caught (Vue's info) (log). */
export const ATTR_MP_ERROR_INFO = 'mp.error.info';
/** the component an error came from (Vue) (log). */
export const ATTR_MP_ERROR_COMPONENT = 'mp.error.component';
/** React's component stack of an error a boundary caught (log). */
export const ATTR_MP_ERROR_COMPONENT_STACK = 'mp.error.component_stack';
/** time from connectSocket to open (span). */
export const ATTR_MP_WEBSOCKET_OPEN_MS = 'mp.websocket.open_ms';
/** messages sent on the connection (span). */
export const ATTR_MP_WEBSOCKET_MESSAGES_SENT = 'mp.websocket.messages_sent';
/** messages received on the connection (span). */
export const ATTR_MP_WEBSOCKET_MESSAGES_RECEIVED = 'mp.websocket.messages_received';
/** bytes sent on the connection (span). */
export const ATTR_MP_WEBSOCKET_BYTES_SENT = 'mp.websocket.bytes_sent';
/** bytes received on the connection (span). */
export const ATTR_MP_WEBSOCKET_BYTES_RECEIVED = 'mp.websocket.bytes_received';
/** the close code (1000 normal; others are errors) (span). */
export const ATTR_MP_WEBSOCKET_CLOSE_CODE = 'mp.websocket.close_code';
/** the close reason (span). */
export const ATTR_MP_WEBSOCKET_CLOSE_REASON = 'mp.websocket.close_reason';
/** the module a script.evaluate span evaluated (span). */
export const ATTR_MP_SCRIPT_MODULE = 'mp.script.module';
/** the (sub)package a package.load span loaded (span). */
export const ATTR_MP_PACKAGE_NAME = 'mp.package.name';
/** its size in bytes (span). */
export const ATTR_MP_PACKAGE_SIZE = 'mp.package.size';
/** the component path of a component.set_data span (span). */
export const ATTR_MP_COMPONENT_IS = 'mp.component.is';
/** the data paths a setData changed (span). */
export const ATTR_MP_SET_DATA_PATHS = 'mp.set_data.paths';
/** the update was merged with others (span). */
export const ATTR_MP_SET_DATA_MERGED = 'mp.set_data.merged';
/** time the update waited before it started (span). */
export const ATTR_MP_SET_DATA_PENDING_MS = 'mp.set_data.pending_ms';
/** how late a timer fired: the JS thread was busy that long (span). */
export const ATTR_MP_LONG_TASK_LATE_MS = 'mp.long_task.late_ms';
/** time after the page load when nothing meaningful was rendered yet (log). */
export const ATTR_MP_WHITE_SCREEN_AFTER_MS = 'mp.white_screen.after_ms';
/** visible nodes matching the configured selectors (0) (log). */
export const ATTR_MP_WHITE_SCREEN_VISIBLE_NODES = 'mp.white_screen.visible_nodes';
/** the content selectors checked (log). */
export const ATTR_MP_WHITE_SCREEN_SELECTORS = 'mp.white_screen.selectors';
/** upload | download (metric). */
export const ATTR_MP_IMAGE_DIRECTION = 'mp.image.direction';
/** <100KB | 100KB-1MB | 1MB-5MB | >5MB (configurable) (metric). */
export const ATTR_MP_IMAGE_SIZE_BUCKET = 'mp.image.size_bucket';
/** success | rejected | error | aborted (metric). */
export const ATTR_MP_IMAGE_OUTCOME = 'mp.image.outcome';
/** the tail-sampling policy that kept a trace (collector bookkeeping, removed before storage) (scope). */
export const ATTR_TAILSAMPLING_POLICY = 'tailsampling.policy';
/** the root span Kong's opentelemetry plugin always emits (SERVER). */
export const GATEWAY_SPAN_NAME = 'kong';
/** mini-program launch. */
export const SPAN_APP_LAUNCH = 'app.launch';
/** a page shown. */
export const SPAN_PAGE_VIEW = 'page.view';
/** a page's first render (base library entry). */
export const SPAN_PAGE_FIRST_RENDER = 'page.first_render';
/** a page's first paint. */
export const SPAN_PAGE_FIRST_PAINT = 'page.first_paint';
/** FCP of a page. */
export const SPAN_PAGE_FIRST_CONTENTFUL_PAINT = 'page.first_contentful_paint';
/** LCP of a page. */
export const SPAN_PAGE_LARGEST_CONTENTFUL_PAINT = 'page.largest_contentful_paint';
/** script evaluation (base library evaluateScript entry). */
export const SPAN_SCRIPT_EVALUATE = 'script.evaluate';
/** a (sub)package download (base library loadPackage entry). */
export const SPAN_PACKAGE_LOAD = 'package.load';
/** a page's setData slower than the render plugin's threshold. */
export const SPAN_PAGE_SET_DATA = 'page.set_data';
/** a component's setData slower than the threshold. */
export const SPAN_COMPONENT_SET_DATA = 'component.set_data';
/** the JS thread was busy past the render plugin's threshold. */
export const SPAN_MP_LONG_TASK = 'mp.long_task';
/** one wx.connectSocket connection, connect to close (CLIENT). */
export const WEBSOCKET_SPAN_NAME = 'WebSocket';
/** a page that rendered nothing meaningful within the render plugin's timeout. */
export const EVENT_MP_WHITE_SCREEN = 'mp.white_screen';
/** an exception log record / span event. */
export const EVENT_EXCEPTION = 'exception';
/** the SDK's own report of telemetry it had to drop (mp.dropped.<reason> counts). */
export const EVENT_MP_TELEMETRY_DROPPED = 'mp.telemetry.dropped';
/** image transfer duration histogram (s). */
export const METRIC_MP_IMAGE_TRANSFER_DURATION = 'mp.image.transfer.duration';
/** image transfer size histogram (By). */
export const METRIC_MP_IMAGE_TRANSFER_SIZE = 'mp.image.transfer.size';
/** an app's public ingest key on telemetry requests. */
export const HEADER_INGEST_KEY = 'x-mp-otel-key';
/** a telemetry payload's stable id, the same on every retry (receivers drop repeats). */
export const HEADER_BATCH_ID = 'x-mp-otel-batch';
/** the business error code a backend answered with. */
export const HEADER_APP_ERROR_CODE = 'x-app-error-code';
/** opt-in copy of the fingerprint for gateways that cannot read baggage. */
export const HEADER_FINGERPRINT = 'x-mp-fingerprint';
/** W3C trace-context response header the Node preset sets. */
export const HEADER_TRACERESPONSE = 'traceresponse';
/** the client's fingerprint, propagated to backends in baggage. */
export const BAGGAGE_FINGERPRINT = 'mp.fingerprint';
/** telemetry.distro.name of the mini-program SDK and the Node preset. */
export const DISTRO_NAME = 'mp-otel';

/** Every attribute name above. */
export const ATTRIBUTE_NAMES: readonly string[] = [
  'service.name',
  'service.version',
  'deployment.environment.name',
  'telemetry.distro.name',
  'telemetry.distro.version',
  'os.name',
  'os.version',
  'device.manufacturer',
  'device.model.name',
  'host.name',
  'session.id',
  'client.address',
  'server.address',
  'server.port',
  'url.full',
  'url.path',
  'http.request.method',
  'http.response.status_code',
  'http.route',
  'http.request.body.size',
  'http.response.body.size',
  'error.type',
  'exception.type',
  'exception.message',
  'exception.stacktrace',
  'event.name',
  'network.connection.type',
  'network.connection.subtype',
  'user_agent.original',
  'app.error_code',
  'http.method',
  'http.status_code',
  'http.url',
  'http.target',
  'http.client_ip',
  'http.user_agent',
  'mp.platform',
  'mp.app_id',
  'mp.host.version',
  'mp.base_library.version',
  'mp.fingerprint',
  'mp.route_name',
  'mp.business',
  'mp.department',
  'mp.page.route',
  'mp.page.referrer',
  'mp.navigation.type',
  'mp.request.api',
  'mp.sampling.weight',
  'mp.error.source',
  'mp.error.count',
  'device.id',
  'user.id',
  'user.hash',
  'network.protocol.name',
  'faas.invoked_name',
  'faas.invoked_provider',
  'mp.cloud.env',
  'mp.breadcrumbs',
  'mp.error.info',
  'mp.error.component',
  'mp.error.component_stack',
  'mp.websocket.open_ms',
  'mp.websocket.messages_sent',
  'mp.websocket.messages_received',
  'mp.websocket.bytes_sent',
  'mp.websocket.bytes_received',
  'mp.websocket.close_code',
  'mp.websocket.close_reason',
  'mp.script.module',
  'mp.package.name',
  'mp.package.size',
  'mp.component.is',
  'mp.set_data.paths',
  'mp.set_data.merged',
  'mp.set_data.pending_ms',
  'mp.long_task.late_ms',
  'mp.white_screen.after_ms',
  'mp.white_screen.visible_nodes',
  'mp.white_screen.selectors',
  'mp.image.direction',
  'mp.image.size_bucket',
  'mp.image.outcome',
  'tailsampling.policy',
];
