# Node image for the stack's Node parts (clickhouse-init: migrations, catalog and geo; the example image
# service; the traffic generator). Build context: the repository root (.dockerignore keeps local builds,
# node_modules and data out of it, so the image is built from sources exactly as a clean clone is).
# Node 24 (Active LTS); every dependency in package-lock.json declares an engines range that includes it
# (checked by packages/stack/test/rehearsal.test.ts, which also runs these RUN steps on a clean clone).
FROM node:24.20.0-trixie-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build
RUN mkdir -p /data/images && chown node:node /data/images
ENV NODE_ENV=production
USER node
