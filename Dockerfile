# KlineLab app image.
#   docker build -t klinelab .
#   docker run --rm -p 127.0.0.1:8501:8501 -v "$PWD/workspace:/app/workspace" klinelab
# then open http://localhost:8501 (on a remote machine: ssh -L 8501:localhost:8501 user@HOST).
# The app answers only to Host localhost / 127.0.0.1 / [::1] on its port (DNS-rebinding guard, klinelab_app.py);
# publishing another port or serving behind a proxy: add -e KLINELAB_ALLOWED_HOSTS=localhost:9000,my.proxy.name
# The port is published on the host's loopback only; inside the container the server must listen on
# all interfaces of the container's own network namespace for the published port to reach it.
# CPU image by default; for a CUDA image build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    KLINELAB_HOME=/app/workspace TF_CPP_MIN_LOG_LEVEL=2

RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 openssh-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --extra-index-url "$TORCH_INDEX" -r requirements.txt

COPY . .
RUN useradd --create-home klinelab && mkdir -p /app/workspace && chown -R klinelab /app/workspace
USER klinelab

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["sh", "-c", "python -m engine data import-sample && python scripts/serve.py --server.address 0.0.0.0 --server.port 8501"]
