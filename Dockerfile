# syntax=docker/dockerfile:1
# Producer IdP (OpenID Connect provider) and, unless PORTAL_ENABLED=false, the producer portal.
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
#
#   docker build -t producer-idp .
#   docker run -p 3000:3000 -p 3001:3001 -e ISSUER=https://idp.example.com -e DATABASE_URL=... \
#     -e SMTP_URL=... -e MAIL_FROM=... -e COOKIE_KEYS=... -e SIGNING_KEYS_ENCRYPTION_KEY=... \
#     -e PORTAL_URL=https://portal.example.com -e PORTAL_CLIENT_SECRET=... \
#     -e SMS_PROVIDER=webhook -e SMS_WEBHOOK_URL=https://... -e SMS_WEBHOOK_SECRET=... producer-idp
#   (or -e SMS_PROVIDER=twilio -e TWILIO_ACCOUNT_SID=... -e TWILIO_AUTH_TOKEN=... -e TWILIO_FROM=+1...;
#   a missing setting makes the container exit with code 78, naming it; see the README, "Production")

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- production dependencies only ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    PORTAL_PORT=3001

# Application files stay owned by root (read-only for the app); only DATA_DIR is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY views ./views
COPY public ./public
COPY migrations ./migrations
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000 3001

# Readiness (/readyz: database, migrations, signing keys, proxy settings) decides "healthy"; an
# orchestrator's liveness probe should use /healthz instead (no database call), so that a database
# outage does not restart every replica. METRICS_PORT (off by default) serves /metrics on its own port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "src/main.ts"]
