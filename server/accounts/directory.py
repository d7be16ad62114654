"""Accounts and their login names (phone, email, username, verified ID number)."""

from __future__ import annotations

import re
import time

from ..errors import UserError, not_found
from ..exams.staff import ExamStaff, staff_number
from ..phones import is_mobile, normalize_phone
from ..roster import idcard
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import ROLES, Account, from_hash, is_id, new_id, to_hash
from .passwords import Passwords, check_strength

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{2,31}$")


def login_kind(identifier: str) -> tuple[str, str]:
    """Which login name an identifier is, and its normalized value."""
    ident = identifier.strip()
    if "@" in ident:
        return "email", ident.lower()
    if is_mobile(normalize_phone(ident)):
        return "phone", normalize_phone(ident)
    if idcard.looks_like(ident):
        return "idnum", idcard.normalize(ident)
    return "username", ident.lower()


def validate_login_names(phone: str = "", email: str = "", username: str = "") -> dict[str, str]:
    names = {}
    if phone:
        phone = normalize_phone(phone)
        if not is_mobile(phone):
            raise UserError("phone_invalid", field="phone")
        names["phone"] = phone
    if email:
        email = email.strip().lower()
        if len(email) > 254 or not _EMAIL.match(email):
            raise UserError("email_invalid", field="email")
        names["email"] = email
    if username:
        if not _USERNAME.match(username.strip()):
            raise UserError("username_invalid", field="username")
        names["username"] = username.strip().lower()
    return names


class Directory:
    def __init__(self, store: Store, passwords: Passwords) -> None:
        self.store = store
        self.keys = store.keys
        self.passwords = passwords

    async def create(
        self,
        role: str,
        password: str,
        actor: Actor,
        name: str = "",
        phone: str = "",
        email: str = "",
        username: str = "",
        password_hash: str | None = None,
        contact_verified_at: float = 0.0,
        staff_id_number: str = "",
    ) -> Account:
        """Create an account; every login name must be free. ``password_hash`` skips hashing (bulk tools).
        ``staff_id_number``: a staff account's ID number (server/exams/staff.py), never a candidate's."""
        if role not in ROLES:
            raise UserError("role_invalid", field="role")
        if staff_id_number and role == "candidate":  # a candidate's ID number is verified against the roster
            raise UserError("field_unknown", field="staff_id_number", name="staff_id_number")
        staff_id_number = staff_number(staff_id_number)
        names = validate_login_names(phone, email, username)
        if not names:
            raise UserError("register_needs_login", field="phone")
        if password_hash is None:
            check_strength(password)
            password_hash = await self.passwords.hash(password)
        account = Account(
            id=new_id("acc"),
            role=role,
            name=name.strip(),
            password_hash=password_hash,
            created_at=time.time(),
            phone=names.get("phone", ""),
            email=names.get("email", ""),
            username=names.get("username", ""),
            contact_verified_at=contact_verified_at,
            staff_id_number=staff_id_number,
        )
        login_keys = [self.keys.login(kind, value) for kind, value in names.items()]
        fields = to_hash(account)
        argv = [account.id, len(fields), *(item for pair in fields.items() for item in pair)]
        argv += audit.flat_entry("account_created", actor, account.id, role=role, **names)
        taken = await self.store.script("create_account")(
            keys=[self.keys.account(account.id), self.keys.accounts_by_role(role), self.keys.audit(None), *login_keys],
            args=argv,
        )
        if taken:
            kind = list(names)[int(taken) - 1]
            raise UserError(f"{kind}_taken", field=kind)
        await audit.trim_system(self.store.redis, self.keys)
        if role == "candidate":  # until the identity is verified it may expire (accounts/expiry.py)
            await self.store.redis.zadd(self.keys.unverified_accounts(), {account.id: account.created_at})
        return account

    async def set_staff_number(self, account_id: str, raw: str, actor: Actor) -> Account:
        """Record (``""``: clear) a staff account's ID number, audited ``staff_id_number_set``. Refused for a
        candidate account (``staff_id_candidate``: theirs is verified against the roster) and with
        ``staff_on_roster`` when an exam the staff member works on has the number on its roster."""
        account = await self.require(account_id)
        if account.role == "candidate":
            raise UserError("staff_id_candidate", field="staff_id_number")

        def write(pipe, number: str) -> None:
            pipe.hset(self.keys.account(account.id), "staff_id_number", number)
            audit.add(pipe, self.keys, None, "staff_id_number_set", actor, subject=account.id, id_number=number)

        account.staff_id_number = await ExamStaff(self.store).set_number(account.id, raw, write)
        return account

    async def get(self, account_id: str) -> Account | None:
        if not is_id(account_id):
            return None
        data = await self.store.redis.hgetall(self.keys.account(account_id))
        return from_hash(Account, data) if data else None

    async def require(self, account_id: str) -> Account:
        account = await self.get(account_id)
        if account is None:
            raise not_found("account")
        return account

    async def find_by_login(self, identifier: str) -> Account | None:
        kind, value = login_kind(identifier)
        account_id = await self.store.redis.get(self.keys.login(kind, value))
        return await self.get(account_id) if account_id else None

    async def list(self, role: str | None = None) -> list[Account]:
        roles = [role] if role else list(ROLES)
        ids: list[str] = []
        for r in roles:
            ids.extend(sorted(await self.store.redis.smembers(self.keys.accounts_by_role(r))))
        pipe = self.store.pipeline(transaction=False)
        for account_id in ids:
            pipe.hgetall(self.keys.account(account_id))
        return [from_hash(Account, d) for d in await pipe.execute() if d]

    async def set_disabled(self, account_id: str, disabled: bool, actor: Actor) -> Account:
        account = await self.require(account_id)
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.account(account_id), "disabled", "1" if disabled else "0")
            audit.add(pipe, self.keys, None, "account_disabled" if disabled else "account_enabled", actor, account_id)
            await pipe.execute()
        account.disabled = disabled
        return account
