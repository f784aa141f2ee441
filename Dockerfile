# Production image: gunicorn serves the web; the same image runs the Celery worker and beat.
FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production \
    PROVENA_VAR_DIR=/srv/var
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
RUN export DJANGO_SECRET_KEY=build PROVENA_UNIT_CODE_KEY=build \
 && python scripts/compile_messages.py \
  && python manage.py collectstatic --noinput -v0
RUN useradd --system --home /srv provena && mkdir -p /srv/var/media && chown -R provena /srv
USER provena
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
