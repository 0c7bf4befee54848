# Quarry server image: `docker build -t quarry .` then `docker run -p 4000:4000 quarry`
# (embedded database in /data) or with DATABASE_URL=postgres://... (see compose.yaml).

# Build: install from the lock file (the .npmrc skips onnxruntime-node's optional GPU
# download; its CPU binaries ship in the package), compile, then drop dev dependencies.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packages/client/package.json packages/client/
COPY packages/web/package.json packages/web/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    QUARRY_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/packages/client ./packages/client
# The web app's build, served at / (QUARRY_WEB_DIR's default): only the built files.
COPY --from=build --chown=node:node /app/packages/web/dist ./packages/web/dist
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/quarry.js", "serve"]
