# syntax=docker/dockerfile:1
# One image for every aftersales process: `aftersales api` (the default), `aftersales worker`
# and `aftersales migrate`. docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
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

WORKDIR /app

# Dependencies first, from pyproject.toml at the versions of requirements.lock, so a source
# change does not reinstall them.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt -c requirements.lock \
    && rm /tmp/requirements.txt

# The source tree stays in /app: `aftersales migrate` reads alembic.ini and migrations/ from
# beside cli.py, so the package is installed in editable mode pointing here.
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
    && python -c "import cli, settings, worker, api.app"

USER aftersales:aftersales
EXPOSE 8000

# No HEALTHCHECK here: the worker and migrate containers run this image too and serve no
# HTTP. docker-compose.yml gives the api service its /healthz check.
CMD ["aftersales", "api"]
