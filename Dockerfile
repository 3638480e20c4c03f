# syntax=docker/dockerfile:1
#
# One image, two entry points:
#   /app/frontend/Frontend.dll   OCI Distribution pull API, port 8080
#   /app/silo/Silo.dll           grain endpoint, port 8081; "Silo.dll migrate" upgrades the schema
#
#   docker build -t mirror:dev .
#   docker run --rm -p 8080:8080 mirror:dev                                  # frontend (embedded mode)
#   docker run --rm -w /app/silo mirror:dev dotnet Silo.dll migrate          # schema migration
#
# Each app is published into its own directory (and run with that directory as
# its working directory, which ASP.NET Core uses as content root), so the two
# projects' appsettings*.json and *.deps.json can never overwrite each other.
# The output is framework-dependent and portable (no RID), so the build stage
# runs on the build machine's platform and one build serves amd64 and arm64.

ARG DOTNET_VERSION=10.0

# ---------------------------------------------------------------- build
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src

# 1. Restore with only the files that decide the package graph, so that this
#    layer is rebuilt only when a project file or a central version changes.
#    (NuGet.Config is copied too when the repository has one: a glob with no
#    match is fine next to files that exist.)
COPY Directory.Build.props Directory.Packages.props [Nn]u[Gg]et.[Cc]onfig ./
COPY Grains.Interfaces/Grains.Interfaces.csproj Grains.Interfaces/
COPY Grains/Grains.csproj Grains/
COPY Silo/Silo.csproj Silo/
COPY Frontend/Frontend.csproj Frontend/
RUN dotnet restore Frontend/Frontend.csproj \
 && dotnet restore Silo/Silo.csproj

# 2. Sources (tests, docs, helm and build outputs are excluded by .dockerignore).
COPY Grains.Interfaces/ Grains.Interfaces/
COPY Grains/ Grains/
COPY Silo/ Silo/
COPY Frontend/ Frontend/

# 3. Publish both hosts. UseAppHost=false: started as "dotnet X.dll".
#    Neither project ships an appsettings.json (defaults live in code), so the
#    Frontend's reference to the Silo publishes no colliding files;
#    ErrorOnDuplicatePublishOutputFiles=false only guards a future one.
RUN dotnet publish Frontend/Frontend.csproj -c Release --no-restore \
      -o /out/frontend -p:UseAppHost=false -p:ErrorOnDuplicatePublishOutputFiles=false \
 && dotnet publish Silo/Silo.csproj -c Release --no-restore \
      -o /out/silo -p:UseAppHost=false -p:ErrorOnDuplicatePublishOutputFiles=false

# ---------------------------------------------------------------- runtime
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime

LABEL org.opencontainers.image.title="mirror" \
      org.opencontainers.image.description="Clustered pull-through cache for Docker Hub and other OCI registries" \
      org.opencontainers.image.source="https://github.com/example/mirror"

# Files stay owned by root and are read-only to the app user; the process
# writes only to /tmp and the spool/cache directory (volumes in Kubernetes).
COPY --from=build /out/frontend /app/frontend
COPY --from=build /out/silo /app/silo

# Kubernetes mounts the generated settings here (read through MIRROR_CONFIG_FILE)
# and an emptyDir/PVC over the cache directory; created here so that a plain
# "docker run" also has a writable cache owned by the app user.
RUN mkdir -p /app/config /var/cache/mirror \
 && chown "$APP_UID" /var/cache/mirror

# The cache directory is a setting (Mirror:CacheDirectory); the image defaults it
# to the writable directory above, and the chart sets it in the generated JSON.
ENV ASPNETCORE_URLS=http://+:8080 \
    Mirror__CacheDirectory=/var/cache/mirror \
    DOTNET_NOLOGO=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1

# 8080: Frontend (client API, /metrics, /healthz, /readyz); 8081: Silo.
EXPOSE 8080 8081

# $APP_UID (1654, "app") comes from the official aspnet image; non-root.
USER $APP_UID

WORKDIR /app/frontend
CMD ["dotnet", "Frontend.dll"]
