#!/usr/bin/env bash
# Back up the recordings (and the data folder: ID photos, face-check frames) to another machine or
# disk, then check the copy against every recording's manifest.json (sizes and sha256).
# Runs on the machine that holds the shared folder (or any node, which mounts it). docs/deployment.md
# "Backups".
#
#   deploy/backup/recordings-backup.sh backup.example.edu.cn:/srv/backup/interview   # nightly, from cron
#   deploy/backup/recordings-backup.sh /mnt/usb-disk/interview                        # a local disk
#
# Recordings are written once: each file grows while its track is recorded and is never changed after
# (a reconnect starts a new file); manifest.json is replaced whole when a file starts or ends. So an
# rsync of the folder is consistent for every closed recording, and a recording still running when
# it is copied is completed by the next run. Nothing is ever deleted from the backup (no --delete):
# a recording removed from the server by mistake stays in the copy. (The practice takes' folders,
# deleted on the server after practice_keep_h, stay in the backup too: prune them there if needed.)
#
# Settings (environment): SOURCE (/srv/interview), VERIFY (/opt/interview-server/deploy/backup/verify_recordings.py).
set -euo pipefail

target=${1:?"usage: $0 DESTINATION (host:/path or /path)"}
SOURCE=${SOURCE:-/srv/interview}
VERIFY=${VERIFY:-$(dirname "$0")/verify_recordings.py}

# -a: permissions and times kept (the files are the candidates' personal data: 0600, owner interview);
# --partial: a file cut off by a network break resumes; -H: hard links kept
rsync -aH --partial --info=stats1 "$SOURCE/recordings" "$SOURCE/data" "$target/"

# Verify the copy where it lands (the backup host runs the same check: python3, no dependencies)
case "$target" in
    *:*) ssh "${target%%:*}" python3 - "${target#*:}/recordings" < "$VERIFY" ;;
    *)   python3 "$VERIFY" "$target/recordings" ;;
esac
