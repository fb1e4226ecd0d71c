"""People who log in: create, read, update, disable, set password, authenticate."""
from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Role
from iocwall.wall.auth.passwords import Passwords, password_problem
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
UNIT = re.compile(r"^[A-Z0-9_-]{1,16}$")
USER_ROLES = frozenset(r for r in Role if r is not Role.DISPLAY)   # display nodes use tokens
_COLUMNS = ("id, username, role, unit, display_name, disabled, created_at, updated_at, email,"
            " phone")


@dataclass(frozen=True)
class User:
    """A user as the rest of the program sees it: never with the password hash."""
    id: int
    username: str
    role: Role
    unit: str
    display_name: str
    disabled: bool
    created_at: str
    updated_at: str
    email: str = ""          # where notifications go (wall/notify/recipients.py)
    phone: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(id=int(row["id"]), username=row["username"], role=Role(row["role"]),
                   unit=row["unit"], display_name=row["display_name"],
                   disabled=bool(row["disabled"]), created_at=row["created_at"],
                   updated_at=row["updated_at"], email=row.get("email") or "",
                   phone=row.get("phone") or "")

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["role"] = self.role.value
        return data

    def summary(self) -> dict[str, Any]:
        """What the audit log keeps of a user (before/after)."""
        return {"username": self.username, "role": self.role.value, "unit": self.unit,
                "display_name": self.display_name, "disabled": self.disabled,
                "email": self.email, "phone": self.phone}


@dataclass(frozen=True)
class LoginCheck:
    user: User | None          # set only when the password is right and the account enabled
    known_name: str | None     # the account's name if one exists by that name, else None


def check_role_unit(role: Role, unit: str) -> str:
    """The normalised unit; registrars must have one (their province code)."""
    unit = unit.strip().upper()
    if unit and not UNIT.match(unit):
        raise ApiError(422, "invalid", "unit: province code of 1-16 letters/digits "
                       "/ mã tỉnh 1-16 ký tự", "unit")
    if role is Role.REGISTRAR and not unit:
        raise ApiError(422, "invalid", "a registrar needs a unit (province code) "
                       "/ cán bộ đăng ký cần mã tỉnh", "unit")
    return unit


def check_contacts(email: str, phone: str) -> tuple[str, str]:
    """The normalised e-mail address and phone number; 422 naming the bad one."""
    from iocwall.wall.notify.contacts import ContactError, check_email, check_phone
    try:
        email = check_email(email)
    except ContactError as exc:
        raise ApiError(422, "invalid", f"email: {exc}", "email") from None
    try:
        phone = check_phone(phone)
    except ContactError as exc:
        raise ApiError(422, "invalid", f"phone: {exc}", "phone") from None
    return email, phone


class Users:
    def __init__(self, store: Store, passwords: Passwords) -> None:
        self._store = store
        self._passwords = passwords

    async def create(self, username: str, password: str, role: Role, unit: str = "",
                     display_name: str = "", *, check_password: bool = True,
                     email: str = "", phone: str = "") -> User:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise ApiError(422, "invalid", "username: 2-64 of a-z 0-9 . _ - "
                           "/ tên đăng nhập không hợp lệ", "username")
        if role not in USER_ROLES:
            raise ApiError(422, "invalid", f"role '{role.value}' is for tokens only", "role")
        unit = check_role_unit(role, unit)
        email, phone = check_contacts(email, phone)
        if check_password and (problem := password_problem(password)):
            raise ApiError(422, "invalid", problem, "password")
        hashed = await self._passwords.hash(password)
        now = now_iso()
        try:
            user_id = await self._store.execute(
                "INSERT INTO users(username, password_hash, role, unit, display_name, disabled,"
                " created_at, updated_at, email, phone) VALUES(?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (username, hashed, role.value, unit, display_name.strip()[:200], now, now,
                 email, phone))
        except sqlite3.IntegrityError:
            raise ApiError(409, "exists", f"user '{username}' already exists "
                           "/ người dùng đã tồn tại", "username") from None
        return await self.require(user_id)

    async def get(self, user_id: int) -> User | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return User.from_row(row) if row else None

    async def require(self, user_id: int) -> User:
        user = await self.get(user_id)
        if user is None:
            raise ApiError(404, "not_found", "no such user / không có người dùng này")
        return user

    async def by_name(self, username: str) -> User | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM users WHERE username = ?",
                                         (username.strip().lower(),))
        return User.from_row(row) if row else None

    async def list(self) -> list[User]:
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM users ORDER BY username")
        return [User.from_row(r) for r in rows]

    async def count_admins(self) -> int:
        row = await self._store.fetchone(
            "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
        return int(row["n"]) if row else 0

    async def update(self, user_id: int, *, role: Role | None = None, unit: str | None = None,
                     display_name: str | None = None, disabled: bool | None = None,
                     email: str | None = None, phone: str | None = None) -> User:
        """Change the given fields; returns the user after the change."""
        user = await self.require(user_id)
        new_email, new_phone = check_contacts(user.email if email is None else email,
                                              user.phone if phone is None else phone)
        new_role = role if role is not None else user.role
        if new_role not in USER_ROLES:
            raise ApiError(422, "invalid", f"role '{new_role.value}' is for tokens only", "role")
        new_unit = check_role_unit(new_role, unit if unit is not None else user.unit)
        name = display_name.strip()[:200] if display_name is not None else user.display_name
        off = user.disabled if disabled is None else disabled
        if user.role is Role.ADMIN and not user.disabled and (new_role is not Role.ADMIN or off) \
                and await self.count_admins() <= 1:
            raise ApiError(409, "last_admin", "the last active admin cannot be demoted or "
                           "disabled / không thể bỏ quản trị viên cuối cùng", "role")
        await self._store.execute(
            "UPDATE users SET role = ?, unit = ?, display_name = ?, disabled = ?, updated_at = ?,"
            " email = ?, phone = ? WHERE id = ?",
            (new_role.value, new_unit, name, int(off), now_iso(), new_email, new_phone,
             user_id))
        return await self.require(user_id)

    async def set_password(self, user_id: int, password: str) -> User:
        if problem := password_problem(password):
            raise ApiError(422, "invalid", problem, "password")
        await self.require(user_id)
        hashed = await self._passwords.hash(password)
        await self._store.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                                  (hashed, now_iso(), user_id))
        return await self.require(user_id)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; else None."""
        return (await self.check(username, password)).user

    async def check(self, username: str, password: str) -> LoginCheck:
        """Check a password; the result also names the account when it exists (for the
        audit). Raises ApiError 503 when too many checks are already running."""
        row = await self._store.fetchone(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?",
            (username.strip().lower(),))
        ok = await self._passwords.verify(row["password_hash"] if row else None, password)
        known = row["username"] if row else None
        if not ok or row is None or row["disabled"]:
            return LoginCheck(None, known)
        if self._passwords.needs_rehash(row["password_hash"]):
            await self._store.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                                      (await self._passwords.hash(password), row["id"]))
        return LoginCheck(User.from_row(row), known)
