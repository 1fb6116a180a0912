# syntax=docker/dockerfile:1
# The failover-operator image: `make image` (docker build -t failover-operator:<version> .).
# Multi-stage: the build stage installs every runtime dependency from requirements.lock (each pinned, each file's
# sha256 required; `make lock` writes it) into a virtual environment, then the operator's wheel (`pip wheel`, as
# tests/ship/test_image.py does) without dependencies, and `pip check`s that the lock satisfies the wheel; the
# runtime stage is the slim base plus that environment, run as a numeric non-root user. The lock's hashes are for
# this base image (CPython 3.11, glibc 2.36): change it and run `make lock`. Pin PYTHON_IMAGE by digest in
# production.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY operator/ operator/
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/python -m pip install --no-deps /dist/failover_operator-*.whl \
 && /opt/venv/bin/python -m pip check \
 && /opt/venv/bin/failover-operator --version

FROM ${PYTHON_IMAGE}
ARG VERSION
LABEL org.opencontainers.image.title="failover-operator" \
      org.opencontainers.image.description="Moves applications between Kubernetes clusters, coordinated through DynamoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Nothing is written at run time: bytecode was compiled at install time, and the root filesystem may be
# read-only (the Helm chart mounts an emptyDir at /tmp, which is also HOME for botocore's ~/.aws lookups).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
# HEALTH_PORT (/healthz) and METRICS_PORT (/metrics) defaults
EXPOSE 8080 9090
ENTRYPOINT ["failover-operator"]
CMD ["run"]
