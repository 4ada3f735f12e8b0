"""How figures and data read in any message: escaping, money, token counts.

Shared by the /aispend answers and the scheduled messages, so a dollar amount
or an escaped team name reads the same everywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

ELLIPSIS = "…"
CENT = Decimal("0.01")


def esc(value: object) -> str:
    """Escape data for mrkdwn: ``&``, ``<`` and ``>``, so nothing in it is a mention."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def usd(micros: int | None) -> str:
    """Micro-dollars as ``$1,234.56``; sub-cent amounts keep four places."""
    if micros is None:
        return "n/a"
    amount = Decimal(micros) / Decimal(1_000_000)
    if 0 < abs(amount) < CENT:
        return f"${amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_EVEN)}"
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
    return f"-${-rounded:,}" if rounded < 0 else f"${rounded:,}"


def tokens(count: int) -> str:
    """``52000`` -> ``52k``; ``1250000`` -> ``1.25M``."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    if count >= 1_000:
        return f"{count / 1_000:.3g}k"
    return str(count)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"
