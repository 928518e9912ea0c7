# BugZapp's production image: `docker build -t bugzapp .`, then see compose.yaml or the README's
# "Deploy it" section. Three stages: compile, install production dependencies, and a small
# runtime image that holds only those two and the migrations, run as the unprivileged `node` user.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma prisma
# postinstall generates the Prisma client (and Pothos' Prisma types) into src/generated.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
RUN npm run build

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Without dev and optional packages npm also leaves out the Prisma CLI and TypeScript, which
# @prisma/client lists as optional peers; the compiled client in dist/ needs neither.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=4000 DATA_DIR=/data
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY prisma/migrations prisma/migrations
# The embedded database (when DATABASE_URL is unset) and nothing else is written, to /data.
RUN mkdir /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 and handles SIGTERM (graceful shutdown); no npm or shell in between.
CMD ["node", "dist/main.js"]
