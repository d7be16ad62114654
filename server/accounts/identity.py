"""Identity verification: name + ID number against the school's roster, one ID number per account.

A second account claiming an ID number that is already verified gets a clear
message and an appeal that a proctor decides (the UI's 身份证认证冲突 / 去申诉).
"""

from __future__ import annotations

import hashlib
import time

from ..errors import UserError, not_found
from ..roster import idcard
from ..roster.book import RosterBook, same_name
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Appeal, from_hash, is_id, to_hash


class Identity:
    def __init__(self, store: Store, roster: RosterBook) -> None:
        self.store = store
        self.keys = store.keys
        self.roster = roster

    async def verify(self, account: Account, name: str, id_number: str) -> Account:
        if account.verified_at:
            raise UserError("already_verified")
        number = idcard.validate(id_number)
        entries = await self.roster.entries_for(number)
        if not entries:
            raise UserError("id_not_on_roster", field="id_number")
        if not any(same_name(e.name, name) for e in entries):
            raise UserError("id_name_mismatch", field="name")
        roster_name = next(e.name for e in entries if same_name(e.name, name))
        actor = Actor(account.id, account.role)
        now = time.time()
        argv = [number, account.id, roster_name, f"{now:.3f}"]
        argv += audit.flat_entry(
            "identity_verified", actor, account.id, id_number=number, exams=[e.exam_id for e in entries]
        )
        result = await self.store.script("verify_identity")(
            keys=[
                self.keys.id_claim(number),
                self.keys.account(account.id),
                self.keys.login("idnum", number),
                self.keys.audit(None),
            ],
            args=argv,
        )
        if result == "already":
            raise UserError("already_verified")
        if result.startswith("claimed:"):
            await self._open_appeal(account, number, roster_name, result.split(":", 1)[1])
            raise UserError("id_claimed", field="id_number")
        account.id_number, account.name, account.verified_at = number, roster_name, now
        return account

    async def _open_appeal(self, account: Account, number: str, name: str, claimed_by: str) -> Appeal:
        appeal_id = "appeal_" + hashlib.sha256(f"{account.id}:{number}".encode()).hexdigest()[:12]
        existing = await self.store.redis.hgetall(self.keys.appeal(appeal_id))
        if existing and existing.get("status") == "open":
            return from_hash(Appeal, existing)
        appeal = Appeal(
            id=appeal_id,
            account_id=account.id,
            id_number=number,
            name=name,
            claimed_by=claimed_by,
            created_at=time.time(),
        )
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.appeal(appeal_id), mapping=to_hash(appeal))
            pipe.zadd(self.keys.open_appeals(), {appeal_id: appeal.created_at})
            audit.add(
                pipe,
                self.keys,
                None,
                "identity_appeal_opened",
                Actor(account.id, account.role),
                account.id,
                appeal_id=appeal_id,
                id_number=number,
                claimed_by=claimed_by,
            )
            await pipe.execute()
        return appeal

    async def open_appeals(self) -> list[Appeal]:
        ids = await self.store.redis.zrange(self.keys.open_appeals(), 0, -1)
        found = [await self.store.redis.hgetall(self.keys.appeal(i)) for i in ids]
        return [from_hash(Appeal, d) for d in found if d]

    async def resolve_appeal(self, actor: Actor, appeal_id: str, approve: bool, comment: str) -> Appeal:
        """Approval moves the ID number from the account that holds it to the appellant."""
        data = await self.store.redis.hgetall(self.keys.appeal(appeal_id)) if is_id(appeal_id) else {}
        if not data:
            raise not_found("appeal")
        appeal = from_hash(Appeal, data)
        if appeal.status != "open":
            raise UserError("appeal_resolved")
        appeal.status = "approved" if approve else "rejected"
        appeal.resolved_by, appeal.resolved_at, appeal.comment = actor.account_id, time.time(), comment
        k = self.keys
        async with self.store.pipeline() as pipe:
            pipe.hset(k.appeal(appeal_id), mapping=to_hash(appeal))
            pipe.zrem(k.open_appeals(), appeal_id)
            if approve:
                holder = await self.store.redis.get(k.id_claim(appeal.id_number))
                if holder:
                    pipe.hset(k.account(holder), mapping={"id_number": "", "verified_at": "0"})
                pipe.set(k.id_claim(appeal.id_number), appeal.account_id)
                pipe.set(k.login("idnum", appeal.id_number), appeal.account_id)
                pipe.hset(
                    k.account(appeal.account_id),
                    mapping={
                        "id_number": appeal.id_number,
                        "name": appeal.name,
                        "verified_at": f"{appeal.resolved_at:.3f}",
                    },
                )
            audit.add(
                pipe,
                k,
                None,
                "identity_appeal_" + appeal.status,
                actor,
                appeal.account_id,
                appeal_id=appeal_id,
                id_number=appeal.id_number,
                previous_holder=appeal.claimed_by,
                comment=comment,
            )
            await pipe.execute()
        return appeal
