# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY calcifer ./calcifer
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# The image serves the network, so it needs CALCIFER_MASTER_KEY (API keys are then required;
# `docker run -e CALCIFER_MASTER_KEY=…`); without one it refuses to start, saying so.
# Keys, teams and the ledger live in /app/data (mount a volume there).
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 CALCIFER_CONFIG=/app/config.yaml SERVER_HOST=0.0.0.0
RUN groupadd --system calcifer && useradd --system --gid calcifer --home /app calcifer
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY --chown=calcifer:calcifer config.yaml ./config.yaml
COPY --chown=calcifer:calcifer catalog ./catalog
USER calcifer
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status != 200)"
CMD ["calcifer", "serve"]
