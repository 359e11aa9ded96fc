"""Who is calling: Bearer tokens → sandbox users.

Owns the sandbox's identity rule. Like the real services (oxen.md §1, ltx.md §1) every API
route needs ``Authorization: Bearer <token>``; unlike them, any non-empty token is accepted and
simply *names* a user, so two API keys give two users who never see each other's generations.
The token itself is only ever hashed: it is not stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sandbox.problems import ApiProblem, is_ltx_path

# Fixed namespace so a token maps to the same user_id across restarts and machines.
_USER_NAMESPACE = uuid.UUID("6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e")


@dataclass(frozen=True)
class User:
    """A sandbox user: ``username`` = ``"sandbox-"`` + first 8 hex digits of sha256(token);
    ``user_id`` = uuid5 of the username (a stable UUID string, as Oxen rows carry)."""

    user_id: str
    username: str


def user_for_token(token: str) -> User:
    """The user a (non-empty) Bearer token stands for."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    username = f"sandbox-{digest[:8]}"
    return User(user_id=str(uuid.uuid5(_USER_NAMESPACE, username)), username=username)


def require_user(request: Request) -> User:
    """FastAPI dependency: the caller, or 401 in the provider's envelope.

    Messages follow the providers' wording: LTX ``"Missing authorization header"`` /
    ``"Invalid API key"`` (ltx.md §5), Oxen ``unauthenticated`` (oxen.md §12).
    """
    header = request.headers.get("authorization")
    ltx = is_ltx_path(request.url.path)
    if not header:
        message = (
            "Missing authorization header"
            if ltx
            else "Authentication required: send the header 'Authorization: Bearer <API key>'."
        )
        raise ApiProblem(401, message)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        message = (
            "Invalid API key"
            if ltx
            else "Authentication failed: the Authorization header must be 'Bearer <API key>'."
        )
        raise ApiProblem(401, message)
    return user_for_token(token)


# Route parameter type: ``user: CurrentUser`` authenticates the request.
CurrentUser = Annotated[User, Depends(require_user)]
