"""Decoded video frames handed to the face-check workers through shared memory, not down a pipe.

A decoded frame is large (640x480 RGB: 0.9 MB; 1280x720: 2.7 MB). Pickled into the pool's call
queue it was copied four times (pickle, pipe write in 64 KB pieces, pipe read, unpickle), each copy
into freshly faulted-in pages: 3.5 ms of CPU per 640x480 frame between the server's process and the
worker, 9 ms at 1280x720 (measured, docs/facecheck.md "Performance"), against ~29 ms for the check
itself -- on a 2-core machine that alone kept two workers well under twice one core's rate.

Here the server's process copies the frame once into a *slot*, a block of shared memory that is
kept and reused (its pages stay mapped: no page faults after the first use), and sends the worker
only the slot's name and the frame's shape. The worker maps each slot once and reads the pixels in
place. A slot is given back only when the worker's job is over (done, failed, or cancelled before it
started), so no frame is overwritten while a worker still reads it. Workers never write to a slot.
"""

from __future__ import annotations

from collections import OrderedDict
from multiprocessing import shared_memory

import numpy as np

SLOT_ROUNDING = 1 << 20  # slot sizes are whole MiB, so frames of nearby sizes share slots
WORKER_MAPPINGS = 64  # slots a worker keeps mapped (a slot replaced by a larger one is dropped last)


class FrameSlots:
    """The server process's side: a free list of shared-memory slots, at most ``max_slots`` kept."""

    def __init__(self, max_slots: int) -> None:
        self.max_slots = max(1, max_slots)
        self._free: list[shared_memory.SharedMemory] = []
        self._count = 0

    def put(self, frame: np.ndarray) -> tuple[shared_memory.SharedMemory, tuple[str, tuple[int, ...]]]:
        """Copy ``frame`` (uint8) into a free slot: (the slot, to ``release`` later; what the worker
        needs to read it)."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        slot = self._take(frame.nbytes)
        np.ndarray(frame.shape, np.uint8, buffer=slot.buf)[...] = frame
        return slot, (slot.name, tuple(frame.shape))

    def release(self, slot: shared_memory.SharedMemory) -> None:
        self._free.append(slot)

    def _take(self, size: int) -> shared_memory.SharedMemory:
        fitting = [s for s in self._free if s.size >= size]
        if fitting:
            slot = min(fitting, key=lambda s: s.size)
            self._free.remove(slot)
            return slot
        if self._free and self._count >= self.max_slots:  # make room: drop the smallest free slot
            smallest = min(self._free, key=lambda s: s.size)
            self._free.remove(smallest)
            self._drop(smallest)
        self._count += 1
        return shared_memory.SharedMemory(create=True, size=-(-max(size, 1) // SLOT_ROUNDING) * SLOT_ROUNDING)

    def discard(self, slot: shared_memory.SharedMemory) -> None:
        """Free a slot for good (one given back after ``close``)."""
        self._drop(slot)

    def _drop(self, slot: shared_memory.SharedMemory) -> None:
        self._count -= 1
        slot.close()
        slot.unlink()

    def close(self) -> None:
        """Free every slot not in use (at shutdown, after the workers stopped)."""
        while self._free:
            self._drop(self._free.pop())


_MAPPED: OrderedDict[str, shared_memory.SharedMemory] = OrderedDict()  # in a worker process


def read(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """In a worker: the frame in slot ``name``, read in place (valid until the job returns)."""
    slot = _MAPPED.get(name)
    if slot is None:
        slot = _MAPPED[name] = shared_memory.SharedMemory(name=name)
        while len(_MAPPED) > WORKER_MAPPINGS:
            _, old = _MAPPED.popitem(last=False)
            try:
                old.close()
            except BufferError:  # a view of it still alive: the mapping goes with the process
                pass
    _MAPPED.move_to_end(name)
    return np.ndarray(shape, np.uint8, buffer=slot.buf)
