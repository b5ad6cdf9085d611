# The node runner image: car-runner, the pinned claude CLI, python3 for
# script agents, and the tools the built-in agents read with.
#
#   docker build -f deploy/runner.Dockerfile -t car-runner:0.1.0 .
#
# The install script (`curl -sSL SERVER/install | bash -s -- --token ...`)
# runs it where Docker works: it enrolls the node into the data volume, then
#
#   docker run -d --name car-runner --restart unless-stopped \
#     --network host --pid host --privileged \      # the host's network, pools, disks and services
#     -v /var/lib/car-runner:/data \
#     -v /var/run/docker.sock:/var/run/docker.sock \ # for the Docker agent
#     -e SERVER_URL=http://car.lan:8000 -e NODE_NAME=tower car-runner:0.1.0
#
# By hand instead, without enrolling: -e RUNNER_TOKEN=... (the Node's token in git).
#
# The claude version comes from claude-code.version, the one place it is
# pinned (CI and the install script read the same file). The npm package
# ships a native binary, so Node is needed only in the stage that installs it.

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p car-runner

FROM debian:bookworm-slim AS claude
RUN apt-get update && apt-get install -y --no-install-recommends npm ca-certificates && rm -rf /var/lib/apt/lists/*
COPY claude-code.version /tmp/claude-code.version
RUN npm install --no-fund --no-audit --loglevel=error --prefix /opt/claude \
        "@anthropic-ai/claude-code@$(tr -d '[:space:]' </tmp/claude-code.version)" \
 && cp "$(readlink -f /opt/claude/node_modules/.bin/claude)" /usr/local/bin/claude \
 && /usr/local/bin/claude --version

FROM debian:bookworm-slim
# docker.io for its CLI (the Docker agent talks to the host's socket);
# zpool/zfs are not in Debian main: on ZFS hosts (TrueNAS, Unraid with ZFS,
# Proxmox) install the runner as a binary with the systemd unit instead.
RUN apt-get update && apt-get install -y --no-install-recommends \
        ca-certificates bash python3 procps util-linux smartmontools docker.io \
 && rm -rf /var/lib/apt/lists/*
COPY --from=claude /usr/local/bin/claude /usr/local/bin/claude
COPY --from=build /src/target/release/car-runner /usr/local/bin/car-runner
ENV RUNNER_DATA_DIR=/data RUNNER_PORT=8100 CLAUDE_BIN=/usr/local/bin/claude
VOLUME /data
EXPOSE 8100
HEALTHCHECK --interval=30s --timeout=3s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8100 && printf 'GET /livez HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["/usr/local/bin/car-runner"]
