"""Prices per token class and tier, model id normalisation, and exact costs.

The table is data in the LiteLLM price-map JSON format (per-token USD costs);
the one shipped in ``usage/data/prices.json`` is used unless the settings name
another file. Numbers are read as decimals, never floats.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path

from usage.errors import ConfigError

MICRO = Decimal("0.000001")
LONG_CONTEXT_THRESHOLD = 200_000
TIERS = ("standard", "batch", "priority", "flex")
# Batch and flex processing bill half the standard rate where a table gives no
# explicit figure (Anthropic and OpenAI both document a 50% discount).
HALF = Decimal("0.5")
# Anthropic prices cache writes off the input rate: 1.25x (5 minutes), 2x (1 hour).
CACHE_5M_FACTOR = Decimal("1.25")
CACHE_1H_FACTOR = Decimal("2")

_CLASSES = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write_5m": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
}
_SUFFIXES = {
    "long": "_above_200k_tokens",
    "batch": "_batches",
    "priority": "_priority",
    "flex": "_flex",
}


@dataclass(frozen=True)
class Tokens:
    """Token counts by price class. ``input`` excludes cached tokens; output includes reasoning."""

    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0

    @property
    def total(self) -> int:
        return (
            self.input
            + self.cache_read
            + self.cache_write_5m
            + self.cache_write_1h
            + self.output
        )

    @property
    def prompt(self) -> int:
        """All input the model read: uncached, cache reads and cache writes."""
        return self.total - self.output

    def count(self, cls: str) -> int:
        return getattr(self, cls)


@dataclass(frozen=True)
class ModelPrice:
    key: str
    provider: str
    rates: dict[str, Decimal] = field(default_factory=dict)

    def has_long_context_tier(self) -> bool:
        return any(name.endswith(_SUFFIXES["long"]) for name in self.rates)

    def rate(self, cls: str, *, tier: str = "standard", long_context: bool = False):
        """Return the USD price of one token of ``cls`` under ``tier``."""
        base = self._base(cls, long_context)
        if tier in ("batch", "flex", "priority"):
            explicit = self.rates.get(_FIELDS[cls] + _SUFFIXES[tier])
            if explicit is not None and not long_context:
                return explicit
            if tier != "priority":
                return base * HALF
        return base

    def _base(self, cls: str, long_context: bool) -> Decimal:
        standard = self._standard(cls)
        if not long_context or not self.has_long_context_tier():
            return standard
        explicit = self.rates.get(_FIELDS[cls] + _SUFFIXES["long"])
        if explicit is not None:
            return explicit
        # No figure for this class: scale it like the input rate.
        base_in = self.rates[_FIELDS["input"]]
        long_in = self.rates.get(_FIELDS["input"] + _SUFFIXES["long"], base_in)
        return standard * long_in / base_in if base_in else standard

    def _standard(self, cls: str) -> Decimal:
        value = self.rates.get(_FIELDS[cls])
        if value is not None:
            return value
        base_in = self.rates[_FIELDS["input"]]
        anthropic = self.provider == "anthropic"
        if cls == "cache_write_5m":
            return base_in * CACHE_5M_FACTOR if anthropic else base_in
        if cls == "cache_write_1h":
            return (
                base_in * CACHE_1H_FACTOR
                if anthropic
                else self._standard("cache_write_5m")
            )
        return base_in  # cache reads with no discount known


@dataclass
class PriceTable:
    models: dict[str, ModelPrice]
    origin: str = "built-in"

    _memo: dict[str, ModelPrice | None] = field(default_factory=dict, repr=False)

    def lookup(self, model: str) -> ModelPrice | None:
        """Return the price of ``model`` after normalising its id, or None if unknown."""
        if model in self._memo:
            return self._memo[model]
        found = next(
            (self.models[c] for c in model_candidates(model) if c in self.models), None
        )
        if len(self._memo) < 10_000:
            self._memo[model] = found
        return found

    def canonical(self, model: str) -> str:
        """The table's key for ``model`` when known, else its normalised id."""
        found = self.lookup(model)
        return found.key if found else normalize_model(model)

    def cost(
        self,
        model: str,
        tokens: Tokens,
        *,
        tier: str = "standard",
        long_context: bool | None = None,
    ) -> Decimal | None:
        """Exact USD cost of one request or bucket; None when the model is unpriced.

        ``long_context=None`` decides from the request's own input size: past the
        threshold every token of the request bills at the long-context rate.
        Callers with buckets pass the vendor's own context-window flag instead.
        """
        price = self.lookup(model)
        if price is None:
            return None
        if long_context is None:
            long_context = tokens.prompt > LONG_CONTEXT_THRESHOLD
        return sum(
            (
                price.rate(cls, tier=tier, long_context=long_context)
                * tokens.count(cls)
                for cls in _CLASSES
                if tokens.count(cls)
            ),
            Decimal(0),
        )


def to_micros(amount: Decimal) -> int:
    """Round a USD amount half-even to the micro-dollar."""
    return int((amount / MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


_REGION_PREFIX = re.compile(r"^(us|eu|apac|ap|ca|jp|au|global|us-gov)\.")
_VENDOR_PREFIX = re.compile(r"^(anthropic|openai|google|meta|amazon|mistral|cohere)\.")
_VERSION_SUFFIX = re.compile(r"(-v\d+(:\d+)?|:\d+)$")
_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|@\d{8}|@latest|-latest)$")
_CLAUDE_REORDERED = re.compile(
    r"^claude-(\d+(?:[.-]\d+)?)-(opus|sonnet|haiku)((?:-[a-z]+)*)$"
)
_CLAUDE_DOTTED = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)\.(\d+)")
_MODE_SUFFIX = re.compile(r"-(thinking|high|low|medium|max|fast)$")


def normalize_model(raw: str) -> str:
    """Strip provider prefixes, ARNs, regions and version suffixes from a model id."""
    name = raw.strip().lower()
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    name = name.rsplit("/", 1)[-1]
    name = _REGION_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name)
    name = _VERSION_SUFFIX.sub("", name)
    if name.count("@") == 1:
        name = name.split("@", 1)[0]
    return name


def model_candidates(raw: str) -> list[str]:
    """Ids to try in the price table, most specific first."""
    name = normalize_model(raw)
    candidates = [name]
    undated = _DATE_SUFFIX.sub("", name)
    candidates.append(undated)
    plain = _MODE_SUFFIX.sub("", undated)
    candidates.append(plain)
    reordered = _CLAUDE_REORDERED.match(plain)
    if reordered:
        version, family, rest = reordered.groups()
        plain = f"claude-{family}-{version.replace('.', '-')}{rest}"
        candidates.append(plain)
    dotted = _CLAUDE_DOTTED.match(plain)
    if dotted:
        candidates.append(_CLAUDE_DOTTED.sub(r"claude-\1-\2-\3", plain))
    return list(dict.fromkeys(candidates))


def parse_litellm_map(text: str, *, origin: str) -> PriceTable:
    """Read a LiteLLM ``model_prices_and_context_window.json`` style map."""
    try:
        raw = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"price table {origin} is not JSON (line {exc.lineno}): {exc.msg}"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"price table {origin} must be a JSON object of models")
    models: dict[str, ModelPrice] = {}
    for name, entry in raw.items():
        price = _model_price(name, entry)
        if price is None:
            continue
        models.setdefault(name.lower(), price)
    for price in list(models.values()):
        models.setdefault(normalize_model(price.key), price)
    if not models:
        raise ConfigError(f"price table {origin} has no priced models")
    return PriceTable(models=models, origin=origin)


def _model_price(name: str, entry: object) -> ModelPrice | None:
    if not isinstance(entry, dict) or _FIELDS["input"] not in entry:
        return None
    if entry.get("mode", "chat") not in ("chat", "completion", "responses"):
        return None
    rates = {
        key: Decimal(value)
        for key, value in entry.items()
        if "cost" in key and isinstance(value, Decimal)
    }
    if any(rate < 0 for rate in rates.values()):
        return None
    provider = str(entry.get("litellm_provider", "")).split("_")[0]
    return ModelPrice(key=name.lower(), provider=provider, rates=rates)


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """Load the price table at ``path``, or the one shipped with aispend."""
    if path is None:
        text = resources.files("usage").joinpath("data/prices.json").read_text("utf-8")
        return parse_litellm_map(text, origin="built-in")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read price table {path}: {exc.strerror}") from exc
    return parse_litellm_map(text, origin=str(path))
