import pytest

from bot.slack_client import (
    BadMessage,
    DeliveryStopped,
    RecipientUnavailable,
    SlackClient,
    SlackError,
    TransientFailure,
    UncertainDelivery,
)
from tests.fakes.clock import FakeClock
from tests.fakes.slack import VALID_TOKEN


def client_for(fake, clock=None, **kwargs) -> SlackClient:
    clock = clock or FakeClock()
    return SlackClient(
        token=VALID_TOKEN, base_url=fake.base_url, sleep=clock.sleep, **kwargs
    )


async def test_rate_limited_call_waits_retry_after_then_succeeds(fake_slack):
    fake_slack.add_user("U1", "a@example.test")
    fake_slack.rate_limit("chat.postMessage", on_calls={1}, retry_after=30)
    clock = FakeClock()

    answer = await client_for(fake_slack, clock).post_message("U1", text="hi")

    assert answer["ok"] is True
    assert clock.slept == [30]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert len(fake_slack.delivered_to("U1")) == 1


async def test_server_errors_are_retried_with_growing_backoff_for_reads(fake_slack):
    fake_slack.add_user("U1", "a@example.test")
    fake_slack.server_error("users.info", on_calls={1, 2, 3}, status=503)
    clock = FakeClock()

    user = await client_for(fake_slack, clock).user_info("U1")

    assert user["id"] == "U1"
    assert clock.slept == [1.0, 2.0, 4.0]


async def test_reads_give_up_after_max_attempts(fake_slack):
    fake_slack.server_error("users.info", on_calls=range(1, 10), status=500)

    with pytest.raises(TransientFailure):
        await client_for(fake_slack, max_attempts=3).user_info("U1")

    assert len(fake_slack.calls_to("users.info")) == 3


async def test_post_that_may_have_reached_slack_is_not_blindly_retried(fake_slack):
    fake_slack.add_user("U1", "a@example.test")
    fake_slack.server_error("chat.postMessage", on_calls={1}, status=502)

    with pytest.raises(UncertainDelivery):
        await client_for(fake_slack).post_message("U1", text="hi")

    assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("users_not_found", RecipientUnavailable),
        ("user_disabled", RecipientUnavailable),
        ("cannot_dm_bot", RecipientUnavailable),
        ("channel_not_found", RecipientUnavailable),
        ("invalid_auth", DeliveryStopped),
        ("token_revoked", DeliveryStopped),
        ("account_inactive", DeliveryStopped),
        ("missing_scope", DeliveryStopped),
        ("invalid_blocks", BadMessage),
        ("msg_too_long", BadMessage),
        ("not_in_channel", SlackError),
    ],
)
async def test_errors_are_sorted_as_slack_documents(fake_slack, error, kind):
    fake_slack.fail("chat.postMessage", error)

    with pytest.raises(kind) as raised:
        await client_for(fake_slack).post_message("C1", text="hi")

    assert raised.value.error == error
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_fake_records_json_bodies_and_query_strings(fake_slack):
    fake_slack.add_user("U1", "Mixed.Case@Example.test")
    client = client_for(fake_slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]

    await client.post_message("U1", text="hello", blocks=blocks)
    user = await client.lookup_by_email("  mixed.case@example.TEST ")

    post = fake_slack.calls_to("chat.postMessage")[0]
    lookup = fake_slack.calls_to("users.lookupByEmail")[0]
    assert post.body["blocks"] == blocks
    assert post.token == VALID_TOKEN
    assert lookup.body["email"] == "mixed.case@example.test"
    assert user["id"] == "U1"


async def test_revoked_token_stops(fake_slack):
    fake_slack.revoke()

    with pytest.raises(DeliveryStopped):
        await client_for(fake_slack).auth_test()


async def test_wait_for_returns_once_calls_arrive(fake_slack):
    await client_for(fake_slack).auth_test()

    calls = fake_slack.wait_for("auth.test", 1, timeout=5)

    assert calls[0].method == "auth.test"
