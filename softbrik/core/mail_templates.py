"""The texts of every e-mail Softbrik sends, in Danish ("da", the default) and English ("en").

Each template is a dict of `str.format` strings per language: `subject`, `text`, and fragments
that `render` picks between (e.g. whether a failed payment will be retried). `render` formats
the context first: cents as euro amounts, dates and instants in the language's style, lists as
bullet lines. Keep the templates plain text; the invitation must carry `Token: <token>` on a line
of its own, which the acceptance tests read (R-ACC-3).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

DEFAULT_LANGUAGE = "da"
LANGUAGES = ("da", "en")

TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    # R-ACC-3: an invited user receives an e-mail with the sign-up details.
    "invitation": {
        "da": {
            "subject": "{inviter_name} har inviteret dig til {team_name} på Softbrik",
            "text": (
                "Hej {invitee_name}\n\n"
                "{inviter_name} har inviteret dig til teamet {team_name} på Softbrik.\n\n"
                "Opret din bruger her:\n{accept_url}\n\n"
                "Eller brug denne kode, når du opretter dig:\n"
                "Token: {token}\n\n"
                "Invitationen udløber {expires_on}.\n\n"
                "Softbrik beder dig aldrig om din adgangskode.\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
        },
        "en": {
            "subject": "{inviter_name} invited you to {team_name} on Softbrik",
            "text": (
                "Hello {invitee_name}\n\n"
                "{inviter_name} has invited you to the team {team_name} on Softbrik.\n\n"
                "Create your account here:\n{accept_url}\n\n"
                "Or use this code when you sign up:\n"
                "Token: {token}\n\n"
                "The invitation expires on {expires_on}.\n\n"
                "Softbrik will never ask you for your password.\n\n"
                "Kind regards\nSoftbrik\n"
            ),
        },
    },
    # R-BILL-9: invoices go to the administrator (or, on request, another address).
    "invoice": {
        "da": {
            "subject": "Faktura {invoice_number} fra Softbrik",
            "text": (
                "Hej {team_name}\n\n"
                "Her er jeres faktura {invoice_number} for perioden "
                "{period_start} til {period_end}.\n\n"
                "Beløb i alt: {total}\n\n"
                "Fakturaen er vedhæftet som PDF.\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
        },
        "en": {
            "subject": "Invoice {invoice_number} from Softbrik",
            "text": (
                "Hello {team_name}\n\n"
                "Here is your invoice {invoice_number} for the period "
                "{period_start} to {period_end}.\n\n"
                "Total: {total}\n\n"
                "The invoice is attached as a PDF.\n\n"
                "Kind regards\nSoftbrik\n"
            ),
        },
    },
    # R-BILL-20: the admin is told about every failed attempt, and about the suspension.
    "payment_failed": {
        "da": {
            "subject": "Betalingen af faktura {invoice_number} mislykkedes",
            "text": (
                "Hej {team_name}\n\n"
                "Vi kunne ikke trække {total} for faktura {invoice_number} på jeres kort.\n\n"
                "{outcome}\n\n"
                "Opdatér kortet under Betaling, så prøver vi straks igen.\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
            "retry": "Vi prøver igen {next_retry_on}.",
            "no_retry": "Vi prøver ikke igen automatisk.",
            "suspended": (
                "Jeres Briks er sat på pause, indtil fakturaen er betalt. "
                "Jeres data er i sikkerhed."
            ),
        },
        "en": {
            "subject": "Payment of invoice {invoice_number} failed",
            "text": (
                "Hello {team_name}\n\n"
                "We could not charge {total} for invoice {invoice_number} to your card.\n\n"
                "{outcome}\n\n"
                "Update your card under Billing and we will try again at once.\n\n"
                "Kind regards\nSoftbrik\n"
            ),
            "retry": "We will try again on {next_retry_on}.",
            "no_retry": "We will not retry automatically.",
            "suspended": ("Your Briks are suspended until the invoice is paid. Your data is safe."),
        },
    },
    # R-BILL-8, R-BILL-17: review users and Briks before the billing date.
    "reminder": {
        "da": {
            "subject": "Jeres næste betaling hos Softbrik er {billing_date}",
            "text": (
                "Hej {team_name}\n\n"
                "Jeres næste betaling er {billing_date}. Tjek venligst jeres brugere og Briks, "
                "så fakturaen passer til det, I bruger:\n\n"
                "{summary}\n\n"
                "Ændringer senest to dage før betalingsdatoen kommer med på fakturaen.\n"
                "Gennemgå opsætningen her:\n{review_url}\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
        },
        "en": {
            "subject": "Your next Softbrik payment is on {billing_date}",
            "text": (
                "Hello {team_name}\n\n"
                "Your next payment is on {billing_date}. Please review your users and Briks so "
                "the invoice matches what you use:\n\n"
                "{summary}\n\n"
                "Changes made up to two days before the billing date are on the invoice.\n"
                "Review your setup here:\n{review_url}\n\n"
                "Kind regards\nSoftbrik\n"
            ),
        },
    },
    # R-SEC-3: the admin hears about threat-detection findings.
    "security_alert": {
        "da": {
            "subject": "Sikkerhedsadvarsel for {team_name}: {finding_type}",
            "text": (
                "Hej {team_name}\n\n"
                "Softbriks trusselsovervågning har registreret en hændelse på jeres konto.\n\n"
                "Type: {finding_type}\n"
                "Alvor: {severity}\n"
                "Tidspunkt: {occurred_at}\n\n"
                "{details}\n\n"
                "Softbrik beder dig aldrig om din adgangskode.\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
        },
        "en": {
            "subject": "Security alert for {team_name}: {finding_type}",
            "text": (
                "Hello {team_name}\n\n"
                "Softbrik's threat detection noticed an event on your account.\n\n"
                "Type: {finding_type}\n"
                "Severity: {severity}\n"
                "Time: {occurred_at}\n\n"
                "{details}\n\n"
                "Softbrik will never ask you for your password.\n\n"
                "Kind regards\nSoftbrik\n"
            ),
        },
    },
    # R-CLOSE-2, R-CLOSE-3, R-CLOSE-4.
    "account_closed": {
        "da": {
            "subject": "Jeres Softbrik-konto {team_name} er lukket",
            "text": (
                "Hej {team_name}\n\n"
                "Jeres konto blev lukket {closed_on}. Alle jeres data er slettet; kun vores "
                "fakturaer til jer gemmes i de 5 år, bogføringsloven kræver.\n\n"
                "Lukningen kan ikke fortrydes. Vil I bruge Softbrik igen, kan I oprette en ny "
                "konto.\n\n"
                "Tak fordi I brugte Softbrik.\n\n"
                "Venlig hilsen\nSoftbrik\n"
            ),
        },
        "en": {
            "subject": "Your Softbrik account {team_name} is closed",
            "text": (
                "Hello {team_name}\n\n"
                "Your account was closed on {closed_on}. All your data has been deleted; only "
                "our invoices to you are kept for the 5 years bookkeeping law requires.\n\n"
                "Closing cannot be undone. To use Softbrik again, please sign up anew.\n\n"
                "Thank you for using Softbrik.\n\n"
                "Kind regards\nSoftbrik\n"
            ),
        },
    },
}

_MONTHS = {
    "da": (
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def format_date(day: date, language: str) -> str:
    if language == "en":
        return f"{day.day} {_MONTHS['en'][day.month - 1]} {day.year}"
    return f"{day.day}. {_MONTHS['da'][day.month - 1]} {day.year}"


def format_instant(moment: datetime, language: str) -> str:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    day = format_date(moment.date(), language)
    clock = f"{moment:%H:%M} UTC"
    return f"{day} kl. {clock}" if language == "da" else f"{day} at {clock}"


def format_cents(cents: int, language: str) -> str:
    """Euro amounts from integer cents: da "1.234,50 EUR", en "EUR 1,234.50"."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}"
    if language == "en":
        return f"{sign}EUR {grouped}.{rest:02d}"
    return f"{sign}{grouped.replace(',', '.')},{rest:02d} EUR"


def _format_value(value: Any, language: str) -> Any:
    # datetime before date: a datetime is a date.
    if isinstance(value, datetime):
        return format_instant(value, language)
    if isinstance(value, date):
        return format_date(value, language)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _prepare_payment_failed(texts: dict[str, str], ctx: dict[str, Any]) -> None:
    if ctx.get("suspended"):
        ctx["outcome"] = texts["suspended"]
    elif ctx.get("next_retry_on") is not None:
        ctx["outcome"] = texts["retry"].format(**ctx)
    else:
        ctx["outcome"] = texts["no_retry"]


def _prepare_reminder(texts: dict[str, str], ctx: dict[str, Any]) -> None:
    ctx["summary"] = "\n".join(f"- {line}" for line in ctx.get("summary_lines") or [])


_PREPARE: dict[str, Callable[[dict[str, str], dict[str, Any]], None]] = {
    "payment_failed": _prepare_payment_failed,
    "reminder": _prepare_reminder,
}


def render(template: str, language: str = DEFAULT_LANGUAGE, **context: Any) -> tuple[str, str]:
    """(subject, text) of `template` in `language`, formatted with `context`.

    An unknown language falls back to Danish; an unknown template raises KeyError, and so does a
    missing context value. Integer `total` is read as cents; dates and datetimes are written in
    the language's style.
    """
    by_language = TEMPLATES[template]
    texts = by_language.get(language) or by_language[DEFAULT_LANGUAGE]
    language = language if language in by_language else DEFAULT_LANGUAGE
    ctx = {key: _format_value(value, language) for key, value in context.items()}
    if isinstance(ctx.get("total"), int) and not isinstance(ctx.get("total"), bool):
        ctx["total"] = format_cents(ctx["total"], language)
    prepare = _PREPARE.get(template)
    if prepare is not None:
        prepare(texts, ctx)
    return texts["subject"].format(**ctx), texts["text"].format(**ctx)
