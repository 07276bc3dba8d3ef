"""Sign-up, sign-in, sessions and invitations (R-ACC-1..5)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from softbrik.core.accounts import passwords
from softbrik.core.accounts.models import Invitation, LoginAttempt, Role, Seat, Session, Team, User
from softbrik.core.accounts.seat_events import SEAT_ADDED, record_seat_event
from softbrik.core.calendar import BillingCalendar
from softbrik.core.clock import local_date
from softbrik.core.errors import (
    BadUserInput,
    Conflict,
    DomainError,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from softbrik.core.runtime import Runtime
from softbrik.core.tenancy import platform_job

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
WRONG_CREDENTIALS = "Wrong e-mail or password."
LANGUAGES = ("da", "en")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def normalize_email(email: str, field: str = "email") -> str:
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise BadUserInput("This is not a valid e-mail address.", field=field)
    return email


def clean_name(value: str, field: str, what: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise BadUserInput(f"The {what} must not be empty.", field=field)
    if len(value) > 200:
        raise BadUserInput(f"The {what} may have at most 200 characters.", field=field)
    return value


def check_password(password: str, field: str = "password") -> None:
    problem = passwords.check_strength(password)
    if problem:
        raise BadUserInput(problem, field=field)


def check_briks(rt: Runtime, briks: list[str], field: str = "briks") -> list[str]:
    unique = list(dict.fromkeys(briks))
    unknown = [key for key in unique if key not in rt.briks]
    if unknown:
        raise BadUserInput(f"Unknown Brik: {', '.join(unknown)}.", field=field)
    return unique


@dataclass(frozen=True)
class SignUp:
    team_name: str
    name: str
    email: str
    password: str
    payment_method: str
    briks: list[str]
    country: str = "DK"
    vat_number: str | None = None
    address: str = ""
    language: str = "da"


@platform_job("an e-mail address is one account across all teams")
async def email_taken(email: str) -> bool:
    found: bool = await User.filter(email=email).exists()
    return found


async def open_session(rt: Runtime, user: User, client_address: str) -> str:
    token = new_token()
    now = rt.clock.now()
    await Session.create(
        user=user,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(hours=rt.settings.session_ttl_hours),
        client_address=client_address[:64],
    )
    return token


@platform_job("sign-up: the team does not exist yet")
async def sign_up(rt: Runtime, form: SignUp, client_address: str = "") -> tuple[User, str]:
    """Create a team whose administrator is the person signing up (R-ACC-1)."""
    team_name = clean_name(form.team_name, "teamName", "team name")
    name = clean_name(form.name, "name", "name")
    email = normalize_email(form.email)
    check_password(form.password)
    briks = check_briks(rt, form.briks)
    country = form.country.strip().upper()
    if not COUNTRY.match(country):
        raise BadUserInput("The country must be an ISO 3166 two-letter code.", field="country")
    language = form.language if form.language in LANGUAGES else "da"
    if await email_taken(email):
        raise Conflict("An account with this e-mail address exists already.", field="email")
    password_hash = rt.hasher.hash(form.password)

    # The card is checked before anything is written: a refused card creates nothing (R-BILL-4).
    customer = await rt.gateway.create_customer(
        email=email, name=team_name, idempotency_key=f"customer:{email}"
    )
    card = await rt.gateway.attach_card(customer, form.payment_method.strip())

    now = rt.clock.now()
    tz = "Europe/Copenhagen"
    today = local_date(now, tz)
    try:
        async with in_transaction():
            team = await Team.create(
                name=team_name,
                created_at=now,
                timezone=tz,
                language=language,
                country=country,
                vat_number=(form.vat_number or "").strip() or None,
                address=form.address.strip(),
                anchor_day=BillingCalendar.for_sign_up(today).anchor,
                payment_customer=customer,
                payment_token=card.token,
                card_brand=card.brand,
                card_last4=card.last4,
                card_exp_month=card.exp_month,
                card_exp_year=card.exp_year,
            )
            user = await User.create(
                team=team,
                email=email,
                name=name,
                password_hash=password_hash,
                role=Role.ADMIN,
                created_at=now,
            )
            seats = []
            for key in briks:
                seat = await Seat.create(
                    team=team, user=user, brik=key, starts_on=today, created_at=now
                )
                await record_seat_event(rt, team, SEAT_ADDED, seat, user, user.id)
                seats.append(seat)
            # R-BILL-1: the first month is paid at sign-up; a decline rolls all of it back.
            from softbrik.core.billing.service import open_account

            await open_account(rt, team, user, seats)
            token = await open_session(rt, user, client_address)
    except IntegrityError as exc:
        raise Conflict(
            "An account with this e-mail address exists already.", field="email"
        ) from exc
    return user, token


async def throttle(rt: Runtime, subject: str, client_address: str) -> None:
    """Refuse sign-ins after too many recent failures on the account (its e-mail's keyed hash,
    `subject`) or from the address."""
    since = rt.clock.now() - timedelta(seconds=rt.settings.login_window_seconds)
    recent = LoginAttempt.filter(at__gte=since)
    if await recent.filter(subject=subject).count() >= rt.settings.login_attempts_per_account:
        raise RateLimited("Too many failed sign-ins. Try again in a few minutes.")
    if (
        client_address
        and await recent.filter(client_address=client_address).count()
        >= rt.settings.login_attempts_per_address
    ):
        raise RateLimited("Too many failed sign-ins. Try again in a few minutes.")


class SignInRefused(Unauthenticated):
    """A refused sign-in. `account` is the account the e-mail named, if any: the audit log
    records it (R-SEC-3); it is never shown to the caller."""

    def __init__(self, message: str, account: User | None) -> None:
        super().__init__(message)
        self.account = account


class AccountLocked(DomainError):
    """The right password for an account the threat detection locked (R-SEC-3)."""

    code = "ACCOUNT_LOCKED"

    def __init__(self, account: User) -> None:
        super().__init__(
            "This account is locked after suspicious activity. "
            "An administrator of your team can unlock it."
        )
        self.account = account


@platform_job("log-in: finds the account by e-mail")
async def log_in(
    rt: Runtime, email: str, password: str, client_address: str = ""
) -> tuple[User, str]:
    """Sign in. An unknown e-mail and a wrong password give the same answer; only the right
    password tells that an account is locked (ACCOUNT_LOCKED)."""
    email = email.strip().lower()
    subject = rt.audit.subject(email)
    await throttle(rt, subject, client_address)
    user = await User.get_or_none(email=email).select_related("team")
    ph = rt.hasher
    if user is None:
        # Spend the same time as a real check, so timing tells nothing either.
        passwords.verify(ph, _dummy_hash(rt), password)
        ok = False
    else:
        ok = passwords.verify(ph, user.password_hash, password) and can_sign_in(rt, user)
    if not ok or user is None:
        await LoginAttempt.create(
            subject=subject, client_address=client_address[:64], at=rt.clock.now()
        )
        raise SignInRefused(WRONG_CREDENTIALS, user)
    from softbrik.core.security.findings import is_locked

    if await is_locked(user.id):
        raise AccountLocked(user)
    if ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
        await user.save(update_fields=["password_hash"])
    return user, await open_session(rt, user, client_address)


async def forget_failed_sign_ins(rt: Runtime) -> int:
    """Delete failed sign-ins older than the throttling window (they count for nothing after
    it); how many."""
    since = rt.clock.now() - timedelta(seconds=rt.settings.login_window_seconds)
    deleted: int = await LoginAttempt.filter(at__lt=since).delete()
    return deleted


_DUMMY: dict[tuple[int, int], str] = {}


def _dummy_hash(rt: Runtime) -> str:
    key = (rt.settings.argon2_time_cost, rt.settings.argon2_memory_kib)
    if key not in _DUMMY:
        _DUMMY[key] = rt.hasher.hash(secrets.token_hex(16))
    return _DUMMY[key]


def can_sign_in(rt: Runtime, user: User) -> bool:
    """A member whose access ended, or whose removal took effect, cannot sign in (R-BILL-6)."""
    if user.access_ended_at is not None:
        return False
    team: Team = user.team  # type: ignore[assignment]
    if team.status == "CLOSED":
        return False
    if user.removal_on is not None:
        return local_date(rt.clock.now(), team.timezone) < user.removal_on
    return True


@platform_job("sign-in: finds whose token it is")
async def find_session(rt: Runtime, token: str) -> tuple[Session | None, str]:
    """The session of a bearer token (user and team loaded) and whether it signs in: `ok`, or
    why not (`unknown`, `revoked`, `expired`, `ended`; the audit log keeps the reason, R-SEC-3).
    The session is None when no token was given or none matches it."""
    if not token or len(token) > 200:
        return None, "unknown" if token else ""
    session = await Session.get_or_none(token_hash=hash_token(token)).select_related(
        "user", "user__team"
    )
    if session is None:
        return None, "unknown"
    if session.revoked_at is not None:
        return session, "revoked"
    if session.expires_at <= rt.clock.now():
        return session, "expired"
    if not can_sign_in(rt, session.user):
        return session, "ended"
    return session, "ok"


async def authenticate(rt: Runtime, token: str) -> Session | None:
    """The live session of a bearer token, with its user and team loaded, or None."""
    session, state = await find_session(rt, token)
    return session if state == "ok" else None


async def session_still_valid(rt: Runtime, session_id: int) -> Session | None:
    """The session again, fresh from the database, if it still signs its user in."""
    session = await Session.get_or_none(id=session_id).select_related("user", "user__team")
    if session is None or session.revoked_at is not None:
        return None
    if session.expires_at <= rt.clock.now() or not can_sign_in(rt, session.user):
        return None
    return session


async def log_out(rt: Runtime, session: Session) -> None:
    session.revoked_at = rt.clock.now()
    await session.save(update_fields=["revoked_at"])


async def revoke_sessions(rt: Runtime, user_id: int) -> int:
    return await Session.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=rt.clock.now()
    )


async def invite_user(
    rt: Runtime, admin: User, email: str, name: str, briks: list[str]
) -> tuple[Invitation, str]:
    """Invite a person by e-mail with the Briks they will get (R-ACC-2, -3).

    Returns the invitation and its token; the caller sends the e-mail after commit.
    """
    email = normalize_email(email)
    name = clean_name(name, "name", "name")
    briks = check_briks(rt, briks)
    if await email_taken(email):
        raise Conflict("This person has a Softbrik account already.", field="email")
    now = rt.clock.now()
    token = new_token()
    async with in_transaction():
        # A new invitation to the same address replaces the open ones: only the latest works.
        await Invitation.filter(
            team_id=admin.team_id,
            email=email,
            accepted_at__isnull=True,
        ).update(expires_at=now)
        invitation = await Invitation.create(
            team_id=admin.team_id,
            email=email,
            name=name,
            briks=briks,
            token_hash=hash_token(token),
            invited_by=admin,
            created_at=now,
            expires_at=now + timedelta(days=rt.settings.invitation_ttl_days),
        )
    return invitation, token


@platform_job("invitation: finds it by its token")
async def accept_invitation(
    rt: Runtime, token: str, name: str, password: str, client_address: str = ""
) -> tuple[User, str]:
    """Join a team from an invitation: single use, unexpired, bound to the invited e-mail."""
    invitation = await Invitation.get_or_none(token_hash=hash_token(token.strip())).select_related(
        "team"
    )
    now = rt.clock.now()
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise NotFound("This invitation is unknown, used or expired. Ask for a new one.")
    team: Team = invitation.team  # type: ignore[assignment]
    if team.status == "CLOSED":
        raise NotFound("This invitation is unknown, used or expired. Ask for a new one.")
    name = clean_name(name or invitation.name, "name", "name")
    check_password(password)
    password_hash = rt.hasher.hash(password)
    today = local_date(now, team.timezone)
    try:
        async with in_transaction():
            claimed = await Invitation.filter(id=invitation.id, accepted_at__isnull=True).update(
                accepted_at=now
            )
            if not claimed:
                raise NotFound("This invitation is unknown, used or expired. Ask for a new one.")
            user = await User.create(
                team=team,
                email=invitation.email,
                name=name,
                password_hash=password_hash,
                role=Role.MEMBER,
                created_at=now,
            )
            seats = []
            for key in invitation.briks:
                if key in rt.briks:
                    seat = await Seat.create(
                        team=team, user=user, brik=key, starts_on=today, created_at=now
                    )
                    await record_seat_event(rt, team, SEAT_ADDED, seat, user, user.id)
                    seats.append(seat)
            # R-BILL-5: the new member's seats are charged at once, prorated.
            from softbrik.core.billing.service import charge_added_seats

            await charge_added_seats(rt, team, user, seats)
            session_token = await open_session(rt, user, client_address)
    except IntegrityError as exc:
        raise Conflict("This person has a Softbrik account already.", field="email") from exc
    user.team = team
    return user, session_token


async def send_invitation(rt: Runtime, invitation: Invitation, token: str, admin: User) -> None:
    """E-mail the invitation with its sign-up details (R-ACC-3), in the team's language."""
    from softbrik.core.mail import Message, render

    team = await Team.get(id=invitation.team_id)
    accept_url = f"{rt.settings.public_url.rstrip('/')}/join?token={token}"
    subject, text = render(
        "invitation",
        team.language,
        team_name=team.name,
        inviter_name=admin.name,
        invitee_name=invitation.name,
        accept_url=accept_url,
        token=token,
        expires_on=invitation.expires_at.date().isoformat(),
    )
    await rt.mailer.send(Message(to=[invitation.email], subject=subject, text=text))
