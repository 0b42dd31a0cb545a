# The node's container image.
#   docker build -t tenzro-local-node .
#   API_KEY=$(openssl rand -hex 24) docker-compose up -d     (docker-compose.yml beside this file)
# docs/DEPLOYMENT.md explains the settings, the volume and the identity key.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so that a change of source does not download the packages again.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/Tenzro.Node.Core/Tenzro.Node.Core.csproj src/Tenzro.Node.Core/
COPY src/Tenzro.Node.Runtimes/Tenzro.Node.Runtimes.csproj src/Tenzro.Node.Runtimes/
COPY src/Tenzro.Node.Aggregation/Tenzro.Node.Aggregation.csproj src/Tenzro.Node.Aggregation/
COPY src/Tenzro.Node/Tenzro.Node.csproj src/Tenzro.Node/
# Published for the image's platform (linux-x64 or linux-arm64), which compiles the node ahead of time (ReadyToRun,
# see src/Tenzro.Node/Tenzro.Node.csproj): it starts faster than the portable build.
ARG TARGETARCH
RUN RID="linux-$(if [ "$TARGETARCH" = arm64 ]; then echo arm64; else echo x64; fi)" \
    && echo "$RID" > /tmp/rid \
    && dotnet restore src/Tenzro.Node/Tenzro.Node.csproj -r "$RID"
COPY src/ src/
RUN dotnet publish src/Tenzro.Node/Tenzro.Node.csproj -c Release -r "$(cat /tmp/rid)" --self-contained false -o /app --no-restore --nologo

# Debian (glibc): ONNX Runtime and Wasmtime ship glibc builds only, so no Alpine (musl) image.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Inside a container the API must listen beyond loopback to be reachable through a published port, and a
# node whose API is exposed needs an API key (API_KEY or API_KEYS; docker-compose.yml insists on one).
# IDENTITY_KEY (base64 Ed25519 private key) keeps the node's identity where /data does not last.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    LOG_FORMAT=json \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
RUN mkdir -p /data && chown app:app /data && chmod 0700 /data
# The image's non-root user (uid 1654).
USER app
VOLUME ["/data"]
# 8080 HTTP API; 8081 peer links (TCP) and DHT (UDP); 8082 aggregation group log.
EXPOSE 8080/tcp 8081/tcp 8081/udp 8082/tcp
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["dotnet", "/app/tenzro-node.dll", "health-check", "--url", "http://127.0.0.1:8080"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "/app/tenzro-node.dll"]
