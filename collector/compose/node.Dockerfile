# Node image for the stack's Node parts (ClickHouse migrations, the example image service, the traffic
# generator). Build context: the repository root.
FROM node:20.20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build -w @mp-otel/miniprogram -w @mp-otel/devkit -w @mp-otel/node -w mp-otel
ENV NODE_ENV=production
