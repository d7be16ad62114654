"""Proving a phone number or an email with a one-time code: registration, password reset, changing
the contact of an account. The rules (numbers are the defaults, settings in docs/configuration.md;
the reasoning in docs/security.md "Contact codes and registration"):

- a code is 6 digits from ``secrets``, kept in Redis only as a salted HMAC-SHA256 digest
  (``code:{purpose}:{kind}:{value}``) for ``code_ttl_s`` (300 s); one live code per destination and
  purpose, a new one replaces it;
- it works once (deleted by the one caller that used it, ``code_consume.lua``) and allows
  ``code_max_attempts`` (5) tries, then it is void (``code_attempt.lua``); a try is compared with
  ``hmac.compare_digest``;
- code requests are limited per destination (1 per ``code_resend_s`` = 60 s, ``code_per_destination_day``
  = 10 a day), per client address (``code_per_address_hour`` = 20) and in total (``code_global_hour``
  = 3000), registrations per address (``register_per_address_hour`` = 10) and in total
  (``register_global_hour`` = 3000): every counter of a request is taken at once or not at all
  (``limit_take.lua``);
- no answer tells whether a phone/email is registered: a register code for a registered phone, a
  reset code for an unknown one (and a change to a phone another account uses) answer exactly as the
  others, count against the same limits and send one message, which says what is the case instead of
  holding a code; a wrong, expired, used or void code is one answer, ``code_invalid``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass

from ..errors import UserError
from ..i18n import label
from ..notify import Message, Notifier, NotifyError
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account
from .directory import Directory, validate_login_names
from .passwords import Passwords, check_strength

log = logging.getLogger("server.accounts")

PURPOSES = ("register", "reset", "change")
KINDS = ("phone", "email")
CHANNEL = {"phone": "sms", "email": "email"}


@dataclass(frozen=True)
class CodeLimits:
    ttl_s: int = 300
    max_attempts: int = 5
    resend_s: int = 60
    per_destination_day: int = 10
    per_address_hour: int = 20
    global_hour: int = 3000
    register_per_address_hour: int = 10
    register_global_hour: int = 3000


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _digest(salt: str, purpose: str, kind: str, value: str, code: str) -> str:
    return hmac.new(bytes.fromhex(salt), f"{purpose}:{kind}:{value}:{code}".encode(), hashlib.sha256).hexdigest()


def destination(phone: str | None, email: str | None) -> tuple[str, str]:
    """(kind, normalized value) of the one phone or email a request names."""
    if phone and email:
        raise UserError("contact_one_only", field="email")
    if not phone and not email:
        raise UserError("register_needs_login", field="phone")
    kind = "phone" if phone else "email"
    names = validate_login_names(phone=phone or "", email=email or "")
    return kind, names[kind]


class ContactCodes:
    """Issuing and checking codes, with their limits. Sends nothing (``ContactProofs`` does)."""

    def __init__(self, store: Store, limits: CodeLimits) -> None:
        self.store = store
        self.keys = store.keys
        self.limits = limits

    async def _take(self, counters: list[tuple[str, str, int, int]]) -> tuple[str, int] | None:
        """Take one from every (scope, value, limit, window) counter, or from none: None when taken,
        else (scope of the full counter, seconds until it frees)."""
        keys = [self.keys.rate_limit(scope, value) for scope, value, _, _ in counters]
        args = [item for _, _, limit, window in counters for item in (limit, window)]
        refused = await self.store.script("limit_take")(keys=keys, args=args)
        if not refused:
            return None
        index, ttl = int(refused[0]), int(refused[1])
        return counters[index - 1][0], max(1, ttl)

    async def issue(self, purpose: str, kind: str, value: str, address: str, account_id: str = "") -> str:
        """Count one code request against every limit and store a fresh code for the destination
        (replacing any live one); returns the code. Raises ``code_wait`` / ``code_rate_limited``."""
        assert purpose in PURPOSES and kind in KINDS
        lim = self.limits
        dest = f"{kind}:{value}"
        refused = await self._take(
            [
                ("code-resend", dest, 1, lim.resend_s),
                ("code-day", dest, lim.per_destination_day, 86400),
                ("code-address", address or "-", lim.per_address_hour, 3600),
                ("code-global", "all", lim.global_hour, 3600),
            ]
        )
        if refused:
            scope, wait = refused
            if scope == "code-resend":
                raise UserError("code_wait", seconds=wait)
            raise UserError("code_rate_limited", minutes=max(1, math.ceil(wait / 60)))
        code = new_code()
        salt = secrets.token_hex(16)
        key = self.keys.contact_code(purpose, kind, value)
        async with self.store.pipeline() as pipe:
            pipe.delete(key)
            pipe.hset(
                key,
                mapping={
                    "digest": _digest(salt, purpose, kind, value, code),
                    "salt": salt,
                    "attempts": 0,
                    "account": account_id,
                    "issued_at": f"{time.time():.3f}",
                },
            )
            pipe.expire(key, lim.ttl_s)
            await pipe.execute()
        return code

    async def take_registration(self, address: str) -> None:
        """Count one registration attempt (per address and in total); raises ``register_rate_limited``."""
        lim = self.limits
        refused = await self._take(
            [
                ("register-address", address or "-", lim.register_per_address_hour, 3600),
                ("register-global", "all", lim.register_global_hour, 3600),
            ]
        )
        if refused:
            raise UserError("register_rate_limited", minutes=max(1, math.ceil(refused[1] / 60)))

    async def use(self, purpose: str, kind: str, value: str, code: str, field: str = "code") -> str:
        """Use the destination's code: returns the account id it was issued for ("" for registration).
        Any wrong, expired, used or void code raises ``code_invalid``; the last allowed wrong try
        voids the code."""
        key = self.keys.contact_code(purpose, kind, value)
        code = code.strip()
        found = await self.store.script("code_attempt")(keys=[key], args=[self.limits.max_attempts])
        if not found:
            raise UserError("code_invalid", field=field)
        digest, salt, account_id, attempt = found[0], found[1], found[2], int(found[3])
        given = (
            _digest(salt, purpose, kind, value, code) if len(code) == 6 and code.isascii() and code.isdigit() else ""
        )
        if given and hmac.compare_digest(given, digest):
            if await self.store.script("code_consume")(keys=[key], args=[digest]):
                return account_id
        elif attempt >= self.limits.max_attempts:
            await self.store.script("code_consume")(keys=[key], args=[digest])  # spent: void it now
        raise UserError("code_invalid", field=field)


class ContactProofs:
    """The flows that need a proven contact: asking for a code, registering, resetting a password and
    changing the phone/email of an account."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        passwords: Passwords,
        codes: ContactCodes,
        notifier: Notifier,
        site_name: str,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.directory = directory
        self.passwords = passwords
        self.codes = codes
        self.notifier = notifier
        self.site_name = site_name

    def _message(self, kind: str, value: str, what: str, lang: str, code: str = "") -> Message:
        words = {
            "site": self.site_name,
            "minutes": str(max(1, self.codes.limits.ttl_s // 60)),
            "contact": label(f"notify_contact_{kind}", lang),
        }
        text = label(f"notify_{what}", lang, otp=code, **words)
        subject = label("notify_subject_code" if code else "notify_subject_notice", lang, **words)
        params = {**words, "code": code} if code else words  # for a provider's template (sms_http_body)
        return Message(CHANNEL[kind], value, text, subject, what, params)

    async def _send(self, message: Message) -> None:
        try:
            await self.notifier.send(message)
        except NotifyError as exc:
            log.error(
                "notification not sent", extra={"channel": message.channel, "kind": message.kind, "error": str(exc)}
            )
            raise UserError("notify_failed") from None

    async def request(
        self, purpose: str, kind: str, value: str, address: str, lang: str, account: Account | None = None
    ) -> None:
        """Send a code for ``purpose`` to a destination (``account``: the logged-in one, for
        ``change``). Every accepted request counts the same and sends one message."""
        if purpose not in PURPOSES:
            raise UserError("code_purpose_invalid", field="purpose")
        owner = await self.directory.find_by_login(value)
        if purpose == "change":
            assert account is not None
            for_account = account.id
            what = "code_change" if owner is None or owner.id == account.id else "change_taken"
        elif purpose == "reset":
            for_account = owner.id if owner else ""
            what = "code_reset" if owner else "reset_unknown"
        else:
            for_account = ""
            what = "code_register" if owner is None else "register_taken"
        code = await self.codes.issue(purpose, kind, value, address, for_account)
        message = self._message(kind, value, what, lang, code if what.startswith("code_") else "")
        await self._send(message)
        log.info("contact code requested", extra={"purpose": purpose, "channel": message.channel})

    async def register(self, kind: str, value: str, code: str, password: str, name: str, address: str) -> Account:
        """A candidate account whose phone/email is proven by ``code``."""
        check_strength(password)
        await self.codes.take_registration(address)
        await self.codes.use("register", kind, value, code)
        return await self.directory.create(
            "candidate",
            password,
            Actor.system(),
            name=name,
            contact_verified_at=time.time(),
            **{kind: value},
        )

    async def reset_password(self, kind: str, value: str, code: str, password: str) -> Account:
        """A new password for the account the code was sent to. The caller ends its sessions."""
        check_strength(password)
        account_id = await self.codes.use("reset", kind, value, code)
        account = await self.directory.get(account_id) if account_id else None
        if account is None or getattr(account, kind) != value:
            raise UserError("code_invalid", field="code")  # the code was sent for no account, or its contact moved
        password_hash = await self.passwords.hash(password)
        now = time.time()
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.account(account.id),
                mapping={"password_hash": password_hash, "contact_verified_at": f"{now:.3f}"},
            )
            audit.add(pipe, self.keys, None, "password_reset", Actor(account.id, account.role), account.id, kind=kind)
            await pipe.execute()
        account.password_hash, account.contact_verified_at = password_hash, now
        return account

    async def change_contact(self, account: Account, kind: str, value: str, code: str) -> Account:
        """Replace the account's phone or email by one proven with a code sent to it."""
        issued_for = await self.codes.use("change", kind, value, code)
        if not hmac.compare_digest(issued_for, account.id):
            raise UserError("code_invalid", field="code")
        old = getattr(account, kind)
        new_key = self.keys.login(kind, value)
        old_key = self.keys.login(kind, old) if old else new_key
        now = time.time()
        argv = [account.id, kind, value, f"{now:.3f}"]
        argv += audit.flat_entry("contact_changed", Actor(account.id, account.role), account.id, kind=kind)
        taken = await self.store.script("change_login")(
            keys=[self.keys.account(account.id), new_key, old_key, self.keys.audit(None)], args=argv
        )
        if taken:
            raise UserError(f"{kind}_taken", field=kind)  # the caller proved they hold it: no secret
        setattr(account, kind, value)
        account.contact_verified_at = now
        return account
