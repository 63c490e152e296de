# syntax=docker/dockerfile:1
# Huoma: multi-stage build; the runtime image holds the virtualenv and nothing else of the build.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/huoma
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY router ./router
# Runtime dependencies only (no test, lint or loadtest groups); all ship as binary wheels. The
# `ocr` extra reads WeChat's group card beside its QR code (rapidocr-onnxruntime: its model files
# ship inside the wheel, nothing is downloaded when it runs).
RUN /opt/huoma/bin/pip install '.[ocr]'

FROM python:3.11-slim-bookworm
# System libraries of the OCR extra: OpenCV (opencv-python, pulled in by rapidocr-onnxruntime)
# loads libGL and GLib; ONNX Runtime uses OpenMP (libgomp). A CJK TrueType font for the print
# sheets (PDF): reportlab embeds it.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libgl1 libglib2.0-0 libgomp1 fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/huoma --create-home huoma
COPY --from=build /opt/huoma /opt/huoma
COPY static /opt/huoma/static
ENV PATH=/opt/huoma/bin:$PATH \
    HUOMA_STATIC_DIR=/opt/huoma/static \
    PYTHONUNBUFFERED=1 \
    HUOMA_HOST=0.0.0.0 \
    HUOMA_PORT=8080 \
    HUOMA_DATA_DIR=/var/lib/huoma
USER huoma
WORKDIR /var/lib/huoma
EXPOSE 8080
# /livez answers as soon as the process serves; /readyz says ready or degraded (PostgreSQL down:
# still serving from memory) and 503 only while a worker stops.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('HUOMA_PORT', '8080'), timeout=2)"]
CMD ["huoma", "serve"]
