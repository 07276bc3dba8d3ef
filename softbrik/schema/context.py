"""The per-request context every resolver receives as `info.context`."""

from __future__ import annotations

from typing import Any

from softbrik.core.accounts import service as accounts
from softbrik.core.accounts.models import Role, Session, Team, User
from softbrik.core.accounts.seats import active_brik_keys
from softbrik.core.errors import Forbidden, Unauthenticated
from softbrik.core.events.bus import AccessCheck
from softbrik.core.runtime import Runtime
from softbrik.core.tenancy import enter_team
from softbrik.plugin import BrikContext, BrikNodeLoader


class Context:
    def __init__(
        self,
        rt: Runtime,
        request: Any,
        response: Any = None,
        request_id: str = "",
        client_address: str = "",
    ) -> None:
        self.rt = rt
        self.request = request
        self.response = response
        self.request_id = request_id
        self.client_address = client_address
        self.session: Session | None = None
        self.token_state = ""
        """Why the bearer token given did not sign in (`find_session`), for the audit log."""
        self.token_owner: User | None = None
        """The user of a bearer token that did not sign in (revoked, expired)."""
        self.audit_actor: Any = None
        """Who the audit entry is about when nobody is signed in (a sign-in attempt)."""
        self.audit_subject: str | None = None
        """The keyed hash of the e-mail a sign-in attempt tried."""
        self.connection_params: dict[str, Any] | None = None
        self._brik_keys: set[str] | None = None
        self._brik_contexts: dict[str, BrikContext] = {}
        self.loaders: dict[str, Any] = {}

    async def sign_in(self, token: str | None) -> None:
        found, state = await accounts.find_session(self.rt, token or "")
        self.session = found if state == "ok" else None
        self.token_state = "" if state == "ok" else state
        self.token_owner = found.user if found is not None and state != "ok" else None
        if self.session is not None:
            # The second wall (PostgreSQL row-level security): from here on, this request's
            # queries see only the caller's team.
            enter_team(self.session.user.team_id)
        self._brik_keys = None
        self._brik_contexts.clear()

    def note_sign_in(self, email: str, account: User | None) -> None:
        """Mark this operation as a sign-in attempt for the audit log (R-SEC-3): the e-mail
        only as a keyed hash, and the account it named, if any."""
        from softbrik.core.security.audit import Actor

        self.audit_subject = self.rt.audit.subject(email)
        if account is not None:
            self.audit_actor = Actor.of(account)

    @property
    def user(self) -> User | None:
        return self.session.user if self.session else None

    def require_user(self) -> User:
        if self.session is None:
            raise Unauthenticated("Sign in first.")
        return self.session.user

    def require_team(self) -> Team:
        return self.require_user().team  # type: ignore[return-value]

    def require_admin(self) -> User:
        user = self.require_user()
        if user.role != Role.ADMIN:
            raise Forbidden("Only the team's administrators may do this.")
        return user

    async def brik_keys(self) -> set[str]:
        if self._brik_keys is None:
            user = self.user
            self._brik_keys = (
                await active_brik_keys(self.rt, user, user.team)  # type: ignore[arg-type]
                if user
                else set()
            )
        return self._brik_keys

    async def require_seat(self, brik: str) -> None:
        """R-ACC-3: a Brik's fields answer only users with an active seat for it."""
        self.require_user()
        if brik not in await self.brik_keys():
            raise Forbidden(f"You have no seat for the {brik} Brik.", brik=brik)

    def access_check(self, admin: bool = False, brik: str | None = None) -> AccessCheck:
        """For live subscriptions: raises once the sign-in, the admin role or the seat is gone."""
        self.require_user()
        assert self.session is not None
        session_id = self.session.id

        async def check() -> None:
            session = await accounts.session_still_valid(self.rt, session_id)
            if session is None:
                raise Unauthenticated("Your sign-in has ended.")
            user = session.user
            if admin and user.role != Role.ADMIN:
                raise Forbidden("Only the team's administrators may do this.")
            if brik is not None and brik not in await active_brik_keys(self.rt, user, user.team):
                raise Forbidden(f"You have no seat for the {brik} Brik.", brik=brik)

        return check

    def brik_context(self, info: Any) -> BrikContext:
        return self.brik_context_for(_owning_brik(info))

    def brik_context_for(self, brik: str) -> BrikContext:
        found = self._brik_contexts.get(brik)
        if found is None:
            user = self.require_user()
            found = BrikContext(
                brik=brik,
                team_id=user.team_id,
                user_id=user.id,
                is_admin=user.role == Role.ADMIN,
                platform=self.rt.extras["platform"],
            )
            for extras in self.rt.briks.hook.softbrik_context(context=found):
                if extras:
                    found.extras.update(extras)
            self._brik_contexts[brik] = found
        return found


def _owning_brik(info: Any) -> str:
    """The Brik that owns the field being resolved (mapped when the schema was composed)."""
    owners: BrikOwners = info.schema._softbrik_owners
    parent = info._raw_info.parent_type.name
    if parent in ("Query", "Mutation", "Subscription"):
        return owners.root_fields[info.field_name]
    return owners.types[parent]


class BrikOwners:
    """Which Brik owns each root field and each object type it contributed."""

    def __init__(self) -> None:
        self.root_fields: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.nodes: dict[str, tuple[str, BrikNodeLoader]] = {}
        """Node type name -> (Brik key, loader) for `node(id)`."""
