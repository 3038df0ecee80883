"""Reconciling claims past Discord's nonce window with the channel (issue 19.6), on in-memory fakes."""

import logging
from datetime import UTC, datetime

from tests.welcomebot.app.fakes import FakeConfigs, FakeLog, RecordingObserver
from welcomebot.app.model import GOODBYE_PREFIX, JoinKey, Outcome
from welcomebot.app.ports import WelcomeConfig
from welcomebot.app.reconcile import MAX_PAGES, NONCE_TRUST_S, OwnMessage, Reconciler

EPOCH_MS = 1420070400000
JOINED = 1_790_000_000.0  # epoch seconds of the joins below


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")


def snowflake(at: float, n: int = 0) -> int:
    return ((int(at * 1000) - EPOCH_MS) << 22) | n


class FakeHistory:
    def __init__(self, now: float, messages: list[OwnMessage] | None) -> None:
        self.now = now
        self.messages = messages
        self.reads: list[tuple[int, int, float, int]] = []

    async def discord_now(self) -> float:
        return self.now

    async def own_messages(
        self, guild_id: int, channel_id: int, since: float, max_pages: int
    ) -> list[OwnMessage] | None:
        self.reads.append((guild_id, channel_id, since, max_pages))
        if self.messages is None:
            return None
        return [m for m in self.messages if ((m.id >> 22) + EPOCH_MS) / 1000 > since]


def setup(history: FakeHistory) -> tuple[Reconciler, FakeLog, RecordingObserver]:
    configs = FakeConfigs({5: WelcomeConfig(guild_id=5, channel_id=50, message_template="hi {user}")})
    log, observer = FakeLog(), RecordingObserver()
    return Reconciler(configs=configs, welcome_log=log, history=history, observer=observer), log, observer


def key(user_id: int, at: float = JOINED) -> JoinKey:
    return JoinKey(5, user_id, iso(at))


async def test_an_old_claim_whose_message_is_in_the_channel_is_marked_posted_and_not_reposted():
    a, b, c = key(1), key(2), key(3)
    message = OwnMessage(snowflake(JOINED + 2), frozenset({1, 2}))  # the batch's post named 1 and 2 only
    history = FakeHistory(JOINED + 310, [message])
    reconciler, log, observer = setup(history)
    claims = [(a, "n1"), (b, "n1"), (c, "n1")]
    assert await reconciler.reconcile(claims) == [(c, "n1")], "only the member no message names is re-posted"
    assert log.messages == {a: message.id, b: message.id}
    assert observer.outcomes == {Outcome.POSTED: 2}
    assert history.reads == [(5, 50, JOINED - 1.0, MAX_PAGES)], "one bounded read per channel, from the joins"


async def test_a_claim_inside_the_window_is_left_to_the_nonce_and_the_channel_is_not_read():
    history = FakeHistory(JOINED + NONCE_TRUST_S - 1, [OwnMessage(snowflake(JOINED + 1), frozenset({1}))])
    reconciler, log, _ = setup(history)
    assert await reconciler.reconcile([(key(1), "n1")]) == [(key(1), "n1")]
    assert history.reads == []
    assert log.messages == {}


async def test_claims_without_a_nonce_are_never_looked_for():
    history = FakeHistory(JOINED + 3600, [OwnMessage(snowflake(JOINED + 1), frozenset({1}))])
    reconciler, _, _ = setup(history)
    assert await reconciler.reconcile([(key(1), None)]) == [(key(1), None)]
    assert history.reads == []


async def test_a_goodbye_is_only_a_message_after_the_members_welcome():
    goodbye = JoinKey(5, 1, GOODBYE_PREFIX + iso(JOINED))
    welcome = OwnMessage(snowflake(JOINED + 2), frozenset({1}))
    history = FakeHistory(JOINED + 3600, [welcome])
    reconciler, log, _ = setup(history)
    log.status[key(1)], log.messages[key(1)] = "posted", welcome.id
    assert await reconciler.reconcile([(goodbye, "g1")]) == [(goodbye, "g1")], "the welcome is not the goodbye"
    bye = OwnMessage(snowflake(JOINED + 900), frozenset({1}))
    history.messages = [welcome, bye]
    assert await reconciler.reconcile([(goodbye, "g1")]) == []
    assert log.messages[goodbye] == bye.id


async def test_a_goodbye_whose_welcome_is_unknown_is_reposted_without_looking():
    goodbye = JoinKey(5, 1, GOODBYE_PREFIX + iso(JOINED))
    history = FakeHistory(JOINED + 3600, [OwnMessage(snowflake(JOINED + 900), frozenset({1}))])
    reconciler, _, _ = setup(history)
    assert await reconciler.reconcile([(goodbye, "g1")]) == [(goodbye, "g1")]
    assert history.reads == []


async def test_a_message_older_than_the_join_welcomed_an_earlier_membership():
    history = FakeHistory(JOINED + 3600, [OwnMessage(snowflake(JOINED - 600), frozenset({1}))])
    reconciler, log, _ = setup(history)
    assert await reconciler.reconcile([(key(1), "n1")]) == [(key(1), "n1")]
    assert log.messages == {}


async def test_without_read_message_history_claims_are_reposted_and_the_guild_warned_once(caplog):
    history = FakeHistory(JOINED + 3600, None)
    reconciler, log, _ = setup(history)
    with caplog.at_level(logging.WARNING):
        assert await reconciler.reconcile([(key(1), "n1")]) == [(key(1), "n1")]
        assert await reconciler.reconcile([(key(2), "n2")]) == [(key(2), "n2")]
    warnings = [r for r in caplog.records if "Read Message History" in r.getMessage()]
    assert len(warnings) == 1
    assert log.messages == {}
