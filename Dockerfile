# One image for every tanhui process; docker-compose.yml (and deploy/k8s) pick the command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
# The certificate PDF embeds WenQuanYi Micro Hei for its Chinese text (TANHUI_CERTIFICATE_FONT_PATH);
# without it GET /certificates/{id}.pdf answers 503.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir uv==0.13.8 \
 && useradd --system --uid 10001 --home-dir /app tanhui \
 && mkdir /keys && chown tanhui:tanhui /keys
WORKDIR /app
# Dependencies first, from the lock and the members' pyproject.toml only: this layer is rebuilt
# when the lock changes, not on every source edit.
COPY pyproject.toml uv.lock ./
COPY libs/tanhui-shared/pyproject.toml libs/tanhui-shared/
COPY services/accounts/pyproject.toml services/accounts/
COPY services/verification/pyproject.toml services/verification/
COPY services/credits/pyproject.toml services/credits/
COPY gateway/pyproject.toml gateway/
RUN uv sync --frozen --no-dev --no-install-workspace
# Then the code the processes run (.dockerignore keeps tests, keys, benchmarks and screenshots out).
COPY libs libs
COPY services services
COPY gateway gateway
COPY console console
COPY tools tools
RUN uv sync --frozen --no-dev
# /keys is owned by the service user, so a new `keys` volume mounted there is too and keygen,
# running as this user, writes a key (mode 0600) that the services (the same uid) can read.
USER 10001
EXPOSE 8000
CMD ["python", "-m", "tanhui_gateway", "--host", "0.0.0.0", "--port", "8000"]
