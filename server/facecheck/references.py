"""Reference embeddings of ID photos: computed once (at roster import, else on first use) and cached in
Redis under the model's name and the photo's sha256, so a model change recomputes them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import UserError
from ..roster.photos import PhotoStore
from ..store.base import Store
from .pool import InferencePool


class References:
    def __init__(self, store: Store, photos: PhotoStore, pool: InferencePool | None) -> None:
        self.store = store
        self.photos = photos
        self.pool = pool

    def _key(self, photo_sha256: str) -> str:
        assert self.pool is not None
        return self.store.keys.face_reference(self.pool.model_name, photo_sha256)

    async def _document(self, photo_sha256: str, data: bytes | None = None) -> dict:
        """The cached {"embedding": [...]} or {"reason": ...} of an ID photo, computed on a miss
        from ``data`` (or the stored photo file when ``data`` is None)."""
        if self.pool is None:
            raise UserError("facecheck_unavailable")
        cached = await self.store.redis.get(self._key(photo_sha256))
        if cached:
            return json.loads(cached)
        if data is None:
            path = self.photos.path(photo_sha256)
            if path is None:
                raise UserError("no_reference_photo")
            data = await asyncio.to_thread(path.read_bytes)
        observation = await self.pool.observe(data, embed=True, reference=True)
        doc: dict[str, Any]
        if observation.reason:
            doc = {"reason": observation.reason}
        else:
            doc = {"embedding": [float(x) for x in observation.embedding or []]}
        await self.store.redis.set(self._key(photo_sha256), json.dumps(doc))
        return doc

    async def prepare(self, photo_sha256: str, data: bytes) -> str | None:
        """Look at an ID photo and cache its embedding; returns the reason it cannot serve, or None."""
        return (await self._document(photo_sha256, data)).get("reason")

    async def prepare_if_available(self, photo_sha256: str, data: bytes) -> str | None:
        """``prepare`` when the face check runs; None (nothing to say) when it does not, so a roster
        can be imported before the models are installed (references are then made on first use)."""
        if self.pool is None:
            return None
        return await self.prepare(photo_sha256, data)

    async def embedding(self, photo_sha256: str) -> list[float]:
        """The reference to compare with; a clear refusal when the roster gives none that works."""
        if self.pool is None:
            raise UserError("facecheck_unavailable")
        if not photo_sha256 or self.photos.path(photo_sha256) is None:
            raise UserError("no_reference_photo")
        doc = await self._document(photo_sha256)
        if "reason" in doc:
            raise UserError("reference_unusable", reason=doc["reason"])
        return doc["embedding"]
