# The Luister application image: API (`luister serve`) and worker (`luister worker`).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY listener ./listener
COPY moderation ./moderation
COPY connectors ./connectors
COPY api ./api
RUN python -m venv /opt/luister && /opt/luister/bin/pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 luister
COPY --from=build /opt/luister /opt/luister
COPY samples /opt/luister-samples
ENV PATH=/opt/luister/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LUISTER_HOST=0.0.0.0 \
    LUISTER_PORT=8000 \
    LUISTER_DATA_DIR=/var/lib/luister
RUN mkdir -p /var/lib/luister && chown luister:luister /var/lib/luister
USER luister
WORKDIR /var/lib/luister
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["luister", "serve"]
