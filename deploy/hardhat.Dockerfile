# The dev chain for docker-compose.yml: a hardhat JSON-RPC node (chain id 31337) with
# node_modules baked in at build time, so starting the service runs no `npm ci`.
# Build from the repository root: docker build -f deploy/hardhat.Dockerfile .
FROM node:20.18.1-bookworm-slim
RUN mkdir /chain && chown node:node /chain
WORKDIR /chain
USER node
COPY --chown=node:node package.json package-lock.json hardhat.config.js ./
RUN npm ci --no-audit --no-fund --loglevel=error && npm cache clean --force
EXPOSE 8545
CMD ["npx", "--no-install", "hardhat", "node", "--hostname", "0.0.0.0", "--port", "8545"]
