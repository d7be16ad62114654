#!/usr/bin/env python3
"""Check a copy of the recordings against their manifests: every file a recording's manifest.json
lists, with its size and sha256, must be in the copy with exactly that size and sha256.

    python3 verify_recordings.py /srv/backup/interview/recordings

Python 3 and its standard library only: it runs on a backup host where nothing else is installed.
Exit status 0 when every listed file is present and intact, 1 otherwise (each problem is printed).

What a manifest holds (server/rooms/recorder.py): one entry per track and segment with "file",
"size" and "sha256" once the file is closed. A recording copied while it was still running
("status": "recording") has entries without a checksum yet: they are counted as "not closed yet",
not as errors, and the next backup completes them. A track that failed while recording has no
checksum either (its status says why). Files that no manifest lists (playable.webm, aux-<n>.webm and
an upload's files of a recorded take: their sha256 is in the take's record in Redis) are counted,
not checked.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(root: Path) -> dict:
    counts = {"recordings": 0, "checked": 0, "not_closed": 0, "failed_tracks": 0, "unlisted": 0}
    problems: list[str] = []
    for manifest_path in sorted(root.rglob("manifest.json")):
        folder = manifest_path.parent
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            tracks = manifest["tracks"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"UNREADABLE {manifest_path}: {exc}")
            continue
        counts["recordings"] += 1
        listed = {"manifest.json"}
        for track in tracks:
            name = track.get("file")
            if not name:
                continue
            listed.add(name)
            path = folder / name
            if not track.get("sha256"):
                failed = track.get("status") in ("failed", "missing", "damaged")
                counts["failed_tracks" if failed else "not_closed"] += 1
                continue
            if not path.is_file():
                problems.append(f"MISSING {path}")
            elif path.stat().st_size != track.get("size"):
                problems.append(f"SIZE {path}: {path.stat().st_size} bytes, the manifest says {track.get('size')}")
            elif sha256_file(path) != track["sha256"]:
                problems.append(f"SHA256 {path}: the content differs from the manifest's checksum")
            else:
                counts["checked"] += 1
        counts["unlisted"] += sum(1 for f in folder.iterdir() if f.is_file() and f.name not in listed)
    return {"counts": counts, "problems": problems}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print(f"usage: {argv[0]} RECORDINGS_FOLDER", file=sys.stderr)
        return 2
    result = verify(Path(argv[1]))
    for line in result["problems"]:
        print(line)
    c = result["counts"]
    print(
        f"{c['recordings']} recordings: {c['checked']} files intact, {len(result['problems'])} problems, "
        f"{c['not_closed']} not closed yet when copied (the next backup completes them), "
        f"{c['failed_tracks']} tracks that failed while recording, {c['unlisted']} files no manifest lists"
    )
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
