"""Authentication: users and passwords, cookie sessions, bearer tokens, CSRF, login limits."""
from iocwall.wall.auth.bootstrap import AdminBootstrap, ensure_admin
from iocwall.wall.auth.middleware import AuthMiddleware
from iocwall.wall.auth.passwords import Passwords, generate_password
from iocwall.wall.auth.ratelimit import LoginLimiter
from iocwall.wall.auth.sessions import Sessions, session_secret
from iocwall.wall.auth.tokens import TokenInfo, Tokens
from iocwall.wall.auth.users import User, Users

__all__ = ["AdminBootstrap", "AuthMiddleware", "LoginLimiter", "Passwords", "Sessions",
           "TokenInfo", "Tokens", "User", "Users", "ensure_admin", "generate_password",
           "session_secret"]
