# Sluice as a container: `docker build -t sluice .`, then
#   docker run -p 7070:7070 -v sluice-data:/data -e SLUICE_ADMIN_KEY=... sluice
# Configuration: environment variables (SLUICE_*), and optionally a sluice.yaml mounted at
# /app/sluice.yaml (or anywhere, named by SLUICE_CONFIG).

# ── build: compile TypeScript and better-sqlite3's native addon ──
FROM node:20-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the one dependency that
# needs its install script (the SQLite addon) is rebuilt explicitly.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

# ── runtime ──
FROM node:20-slim
ENV NODE_ENV=production \
    SLUICE_HOST=0.0.0.0 \
    SLUICE_PORT=7070 \
    SLUICE_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The dashboard's files are served from src/dashboard of the package.
COPY --from=build /app/src/dashboard ./src/dashboard
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 7070
# slim images have no curl: node's own fetch asks /readyz (storage reachable, not stopping).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SLUICE_PORT || 7070) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli/main.js", "start"]
