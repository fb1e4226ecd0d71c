"""The first admin: created at first start, never with a fixed default password."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from iocwall.wall.access import Role
from iocwall.wall.auth.passwords import MIN_LENGTH, generate_password
from iocwall.wall.auth.users import User, Users
from iocwall.wall.config import AuthConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdminBootstrap:
    user: User
    generated_password: str | None   # set only when we made one up: print it once, never log it


async def ensure_admin(users: Users, config: AuthConfig) -> AdminBootstrap | None:
    """Create ``auth.admin_user`` if there is no admin yet. Returns None when nothing was done.

    The password is IOCWALL_ADMIN_PASSWORD (applied to ``config`` by config.load),
    else ``auth.admin_password``, else a strong random one returned to the caller.
    """
    if await users.count_admins() > 0 or await users.by_name(config.admin_user) is not None:
        return None
    password = config.admin_password
    generated = None
    if not password:
        password = generated = generate_password()
    elif len(password) < MIN_LENGTH:
        log.warning("the configured admin password is shorter than %d characters", MIN_LENGTH)
    user = await users.create(config.admin_user, password, Role.ADMIN,
                              display_name="Administrator", check_password=False)
    log.info("created the first admin user '%s'", user.username)
    return AdminBootstrap(user, generated)
