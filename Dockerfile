# One image for every tanhui process; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev && useradd --system --uid 10001 tanhui
USER tanhui
EXPOSE 8000
CMD ["python", "-m", "tanhui_gateway", "--host", "0.0.0.0", "--port", "8000"]
