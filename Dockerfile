# followup in a container: the worker by default, or any other `followup` command.
#
#   docker build -t followup .
#   docker run --rm -v followup-data:/data followup migrate
#   docker run -d --name followup -v followup-data:/data followup          # the worker
#   docker run --rm -it -v followup-data:/data followup schedule
#
# /data is the working folder: followup reads /data/.env there and keeps the SQLite database and
# the outbox folder in it, so mount a volume on it. A named volume gets the right owner by itself;
# a host folder mounted there must be writable by uid 10001. docker-compose.yml runs it with
# Postgres.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FOLLOWUP_DATA_DIR=/data \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 followup \
    && useradd --system --uid 10001 --gid followup --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin followup \
    && mkdir /data \
    && chown followup:followup /data

# Only what the wheel is built from (see [tool.hatch.build] in pyproject.toml).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service/ service/
COPY templates/ templates/
COPY migrations/ migrations/
RUN pip install . \
    && cd / \
    && rm -rf /src

USER followup
WORKDIR /data
VOLUME ["/data"]

ENTRYPOINT ["followup"]
CMD ["worker"]
