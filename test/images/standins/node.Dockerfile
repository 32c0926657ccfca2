# Stand-in for the official node:22-bookworm-slim, for the image tests only: no container registry
# is reachable from CI, so the tests build it from a debootstrapped Debian bookworm and this
# machine's own Node binary and npm (the Node version is the machine's, not necessarily 22).
FROM agent-executor-standin/debian:bookworm
# This machine's CA bundle: where the registry is reached through a TLS-inspecting proxy, the
# build stage's `npm ci` must trust what this machine trusts.
COPY ca-certificates.crt /usr/local/share/agent-executor-standin/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/agent-executor-standin/ca-certificates.crt
# Node and npm where the official image has them.
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# The official image's unprivileged user.
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD ["node"]
