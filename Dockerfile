# One image for the API and the worker (Debian slim: the Temporal SDK ships glibc binaries only).
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/token.ts scripts/matrix-bot.ts ./scripts/
# Prebuilt workflow bundle: workers start fast and forbidden imports fail the build.
RUN node src/worker/bundle.ts /app/dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
CMD ["node", "src/api/main.ts"]
