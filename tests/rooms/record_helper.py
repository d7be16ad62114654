"""Run by test_recorder's kill test: record generated VP8 + Opus in real time until killed.

Prints one line ``started <seconds on the recorder clock> <epoch>`` when the first packets
are written, then keeps writing. Usage: python -m tests.rooms.record_helper FOLDER
"""

import sys
import time
from pathlib import Path

from server.rooms.recorder import InterviewRecorder

from .peers import encode_clip, encode_opus, packet


def main(folder: str) -> None:
    clip = encode_clip(frames=90, gop=30)
    opus = encode_opus(50)
    recorder = InterviewRecorder(Path(folder), "kill-test")
    video = recorder.add_track("cand/video/1", "video", "cand", "candidate")
    audio = recorder.add_track("cand/audio/1", "audio", "cand", "candidate")
    start = time.monotonic()
    announced = False
    a = v = 0
    while True:
        now = time.monotonic() - start
        while v / 30 <= now:
            data, key = clip[v % len(clip)]
            video.write(packet(data, v * 3000, 90000, key))
            v += 1
        while a / 50 <= now:
            audio.write(packet(opus[a % len(opus)], a * 960, 48000, True))
            a += 1
        if not announced:
            print("started", time.time(), flush=True)
            announced = True
        time.sleep(0.005)


if __name__ == "__main__":
    main(sys.argv[1])
