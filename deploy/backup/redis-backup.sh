#!/usr/bin/env bash
# Back up Redis (all of the interview server's state but the files): a fresh snapshot taken with
# BGSAVE, copied with a timestamp and its sha256, snapshots older than KEEP_DAYS deleted.
# Runs on the Redis machine, as root (it reads the password from redis.conf). docs/deployment.md
# "Backups" says how to restore, and how to copy the backups off the machine.
#
#   deploy/backup/redis-backup.sh                 # e.g. hourly from /etc/cron.d (deploy/backup/interview-backup.cron)
#
# Settings (environment): REDIS_CONF (/etc/redis/redis.conf), REDIS_HOST (127.0.0.1), REDIS_PORT (6379),
# BACKUP_DIR (/var/backups/interview/redis), KEEP_DAYS (14), WAIT_S (600).
# tests/deploy/test_backup.py runs it against a real redis-server and restores what it wrote.
set -euo pipefail

REDIS_CONF=${REDIS_CONF:-/etc/redis/redis.conf}
BACKUP_DIR=${BACKUP_DIR:-/var/backups/interview/redis}
KEEP_DAYS=${KEEP_DAYS:-14}
WAIT_S=${WAIT_S:-600}
# the password goes to redis-cli through the environment, never on its command line (ps shows that)
REDISCLI_AUTH=$(awk '$1 == "requirepass" { print $2 }' "$REDIS_CONF")
export REDISCLI_AUTH
cli() { redis-cli --no-auth-warning -h "${REDIS_HOST:-127.0.0.1}" -p "${REDIS_PORT:-6379}" "$@"; }
info() { cli INFO persistence | tr -d '\r' | awk -F: -v key="$1" '$1 == key { print $2 }'; }

dir=$(cli CONFIG GET dir | sed -n 2p)
file=$(cli CONFIG GET dbfilename | sed -n 2p)
before=$(cli LASTSAVE)

# A snapshot already being written (Redis's own `save` schedule) is waited for, then a new one asked.
deadline=$((SECONDS + WAIT_S))
# (redis-cli exits 0 even when Redis answers an error: the answer itself is read)
until case "$(cli BGSAVE 2>&1)" in "Background saving started" | *scheduled*) true ;; *) false ;; esac; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "redis-backup: Redis refused BGSAVE for ${WAIT_S} s" >&2; exit 1; }
    sleep 1
done
until [ "$(cli LASTSAVE)" != "$before" ] && [ "$(info rdb_bgsave_in_progress)" = 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "redis-backup: no snapshot within ${WAIT_S} s" >&2; exit 1; }
    sleep 1
done
if [ "$(info rdb_last_bgsave_status)" != ok ]; then
    echo "redis-backup: Redis could not write its snapshot (disk full? see journalctl -u redis-server)" >&2
    exit 1
fi

mkdir -p "$BACKUP_DIR"
chmod 700 "$BACKUP_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$BACKUP_DIR/redis-$stamp.rdb"
cp "$dir/$file" "$target.part"
chmod 600 "$target.part"
mv "$target.part" "$target"
(cd "$BACKUP_DIR" && sha256sum "redis-$stamp.rdb" > "redis-$stamp.rdb.sha256")
find "$BACKUP_DIR" -name 'redis-*.rdb*' -mtime "+$KEEP_DAYS" -delete
echo "redis-backup: $target ($(stat -c %s "$target") bytes, $(cut -c1-16 "$target.sha256")...)"
