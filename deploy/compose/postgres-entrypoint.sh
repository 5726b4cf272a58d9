#!/bin/sh
# A lab Postgres cluster in a container: initdb once (local socket trusted, TCP needs SCRAM,
# as lab/postgres.py Cluster.init), then the postmaster in the foreground as Cluster.command.
# The socket lives in the data dir, so a container that mounts the data volume at the same
# path has the lab's admin path (what the action and chaos servers use on the local backend).
set -eu
DATA="${PGDATA:?set PGDATA}"
PORT="${PGPORT:?set PGPORT}"
BIN=/usr/lib/postgresql/15/bin
mkdir -p "$DATA"
chown postgres:postgres "$DATA"
chmod 700 "$DATA"
if [ ! -s "$DATA/PG_VERSION" ]; then
  runuser -u postgres -- "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --no-locale >/dev/null
fi
rm -f "$DATA/postmaster.pid"
exec setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$DATA" -p "$PORT" -k "$DATA" \
  -c "listen_addresses=${PGHOST:-127.0.0.1}" -c "max_connections=${PG_MAX_CONNECTIONS:-100}" \
  -c "log_line_prefix=%m [%p] %q%a " -c fsync=on "$@"
