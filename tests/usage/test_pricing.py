from decimal import Decimal

import pytest

from tests.conftest import NORTHWIND
from usage.errors import ConfigError
from usage.pricing import (
    Tokens,
    load_price_table,
    model_candidates,
    normalize_model,
    parse_litellm_map,
    to_micros,
)

BUILT_IN = load_price_table()
NORTHWIND_PRICES = load_price_table(NORTHWIND / "prices.json")


def test_openai_cached_input_is_priced_once():
    # input_tokens=10000 includes 8000 cached: 2000 uncached at $2.50/M, 8000 at $1.25/M.
    tokens = Tokens(input=10_000 - 8_000, cache_read=8_000, output=500)

    assert BUILT_IN.cost("gpt-4o", tokens) == Decimal("0.0200")


def test_anthropic_cache_reads_and_writes_are_priced_per_class():
    tokens = Tokens(input=2_000, cache_read=50_000, cache_write_5m=10_000, output=1_000)

    assert BUILT_IN.cost("claude-sonnet-4-5", tokens) == Decimal("0.0735")


def test_reasoning_inside_completion_is_not_added_again():
    # completion_tokens=1000 already holds its 800 reasoning tokens; $8/M output.
    assert BUILT_IN.cost("o3", Tokens(output=1_000)) == Decimal("0.008")


def test_one_hour_cache_writes_cost_twice_the_input_rate():
    cost = NORTHWIND_PRICES.cost("claude-sonnet-4-5", Tokens(cache_write_1h=100_000))

    assert cost == Decimal("0.6")


def test_batch_tier_bills_half_including_classes_without_a_batch_price():
    tokens = Tokens(input=1_000_000, cache_read=1_000_000, output=100_000)
    standard = NORTHWIND_PRICES.cost("claude-sonnet-4-5", tokens)

    batch = NORTHWIND_PRICES.cost("claude-sonnet-4-5", tokens, tier="batch")

    assert batch == standard / 2


def test_a_request_past_200k_input_bills_every_token_at_the_long_context_rate():
    tokens = Tokens(input=150_000, cache_read=60_000, output=10_000)

    cost = NORTHWIND_PRICES.cost("claude-sonnet-4-5", tokens)

    assert cost == Decimal("0.9") + Decimal("0.036") + Decimal("0.225")


def test_a_model_without_a_long_context_tier_keeps_its_rate():
    tokens = Tokens(input=300_000)

    assert NORTHWIND_PRICES.cost("claude-haiku-4-5", tokens) == Decimal("0.3")


def test_unknown_model_is_unpriced_not_free():
    assert BUILT_IN.cost("claude-sonnet-9-20990101", Tokens(input=50_000)) is None
    assert BUILT_IN.lookup("claude-sonnet-9") is None


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "eu.anthropic.claude-opus-4-5-20251101-v1:0",
            "claude-opus-4-5",
        ),
        ("vertex_ai/claude-opus-4-5@20251101", "claude-opus-4-5"),
        ("claude-4.5-sonnet", "claude-sonnet-4-5"),
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4-5"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("openai/gpt-5-2025-08-07", "gpt-5"),
        ("GPT-5-MINI", "gpt-5-mini"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gpt-4.1-mini", "gpt-4.1-mini"),
    ],
)
def test_model_ids_are_normalised_before_pricing(raw, key):
    assert BUILT_IN.lookup(raw).key == key


def test_normalising_keeps_what_it_cannot_place():
    assert normalize_model("  My-Custom-Model ") == "my-custom-model"
    assert model_candidates("claude-sonnet-9-20990101")[1] == "claude-sonnet-9"


def test_litellm_map_numbers_are_read_as_decimals_not_floats():
    table = parse_litellm_map(
        '{"m": {"input_cost_per_token": 1e-07, "output_cost_per_token": 3e-07}}',
        origin="t",
    )

    assert table.cost("m", Tokens(input=3, output=1)) == Decimal("6E-7")


def test_litellm_map_skips_non_chat_entries_and_sample_spec():
    table = parse_litellm_map(
        '{"sample_spec": {"max_tokens": "set to max"},'
        ' "e": {"mode": "embedding", "input_cost_per_token": 1e-07},'
        ' "c": {"mode": "chat", "input_cost_per_token": 1e-07, "output_cost_per_token": 1e-07}}',
        origin="t",
    )

    assert set(table.models) == {"c"}


def test_a_broken_price_table_is_a_clear_error(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text("{not json")

    with pytest.raises(ConfigError, match="is not JSON"):
        load_price_table(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_price_table(tmp_path / "missing.json")


def test_costs_round_half_even_to_the_micro_dollar():
    assert to_micros(Decimal("0.0000025")) == 2
    assert to_micros(Decimal("0.0000035")) == 4
    assert to_micros(Decimal("0.165")) == 165_000


def test_every_shipped_model_has_input_and_output_prices():
    for price in BUILT_IN.models.values():
        assert price.rate("input") > 0
        assert price.rate("output") > 0
