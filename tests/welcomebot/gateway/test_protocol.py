"""The sans-IO gateway protocol on plain floats: every opcode and close code, no sockets, no sleeping."""

import random
from typing import Any

import msgspec
import pytest

from welcomebot.gateway import events as wire
from welcomebot.gateway.codes import FATAL_CODES, FATAL_MESSAGES, REIDENTIFY_CODES, RESUME_CODES, CloseCode
from welcomebot.gateway.protocol import (
    HELLO_TIMEOUT,
    INTENTS,
    Dispatch,
    Fatal,
    GatewayProtocol,
    Malformed,
    Ready,
    Reconnect,
    Resumed,
    SavedSession,
    Send,
    State,
)

TOKEN = "MTIz.secret.token-value"
READY_D = {
    "v": 10,
    "session_id": "abc",
    "resume_gateway_url": "ws://resume",
    "user": {"id": "42", "username": "welcomebot", "bot": True},
    "guilds": [{"id": "7", "unavailable": True}],
    "shard": [0, 1],
    "application": {"id": "42", "flags": 0},
}


def frame(op: int, d: object = None, s: int | None = None, t: str | None = None) -> bytes:
    return msgspec.json.encode({"op": op, "d": d, "s": s, "t": t})


def sent(events: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.json.decode(e.payload) for e in events if isinstance(e, Send)]


def hello(p: GatewayProtocol, now: float = 0.0, interval_ms: int = 10_000) -> list[Any]:
    p.connection_made()
    return p.receive(frame(10, {"heartbeat_interval": interval_ms}), now)


def ready(p: GatewayProtocol, now: float = 0.0) -> None:
    hello(p, now)
    p.receive(frame(0, READY_D, 1, "READY"), now)


def test_hello_identifies_with_least_privilege_intents():
    p = GatewayProtocol(TOKEN, shard=(1, 4), rng=random.Random(1))
    (identify,) = sent(hello(p))
    assert identify["op"] == 2
    d = identify["d"]
    assert d["token"] == TOKEN
    assert d["intents"] == INTENTS == 3
    assert d["shard"] == [1, 4]
    assert d["properties"]["browser"] == "welcomebot"
    assert p.state is State.AUTHENTICATING


def test_first_heartbeat_is_jittered_then_regular():
    p = GatewayProtocol(TOKEN, rng=random.Random(7))
    hello(p, now=100.0, interval_ms=40_000)
    first = p.next_deadline()
    assert first is not None
    assert 100.0 <= first < 140.0
    assert first != 100.0
    assert p.tick(first - 0.001) == []
    (beat,) = sent(p.tick(first))
    assert beat == {"op": 1, "d": None}
    assert p.next_deadline() == pytest.approx(first + 40.0)


def test_ack_keeps_the_connection_and_missing_ack_means_zombie():
    p = GatewayProtocol(TOKEN, rng=random.Random(3))
    ready(p)
    t1 = p.next_deadline()
    assert t1 is not None
    p.tick(t1)
    assert p.receive(frame(11), t1 + 0.05) == []
    assert p.latency == pytest.approx(0.05)
    t2 = p.next_deadline()
    assert t2 is not None
    (beat,) = sent(p.tick(t2))
    assert beat["d"] == 1, "heartbeats carry the last sequence"
    t3 = p.next_deadline()
    assert t3 is not None
    (reconnect,) = p.tick(t3)  # no ACK for the previous beat
    assert isinstance(reconnect, Reconnect)
    assert reconnect.resume is True
    assert "zombie" in reconnect.reason
    assert reconnect.close_code == CloseCode.RESUMABLE_CLOSE
    assert p.next_deadline() is None


def test_server_heartbeat_request_beats_now():
    p = GatewayProtocol(TOKEN)
    ready(p)
    (beat,) = sent(p.receive(frame(1), 5.0))
    assert beat["op"] == 1


def test_ready_and_dispatches_track_sequence_and_session():
    p = GatewayProtocol(TOKEN)
    hello(p)
    ready_event, r = p.receive(frame(0, {**READY_D, "session_id": "s1", "resume_gateway_url": "ws://r"}, 1, "READY"), 0)
    assert ready_event == Ready("s1", "ws://r", 42, 1)
    assert isinstance(r, Dispatch)
    assert (r.name, r.seq, r.session_id) == ("READY", 1, "s1")
    assert isinstance(r.event, wire.Ready)
    add = {"guild_id": "1", "user": {"id": "5", "username": "ann"}, "joined_at": "2026-01-01T00:00:00Z", "x": 1}
    (d,) = p.receive(frame(0, add, 2, "GUILD_MEMBER_ADD"), 0)
    assert isinstance(d, Dispatch)
    assert d.event == wire.GuildMemberAdd(1, wire.User(5, "ann"), "2026-01-01T00:00:00Z")
    assert msgspec.json.decode(d.data)["x"] == 1
    assert p.state is State.CONNECTED
    assert p.saved_session() == SavedSession("s1", 2, "ws://r", 1)


def test_malformed_known_event_is_skipped_not_fatal():
    p = GatewayProtocol(TOKEN)
    ready(p)
    (m,) = p.receive(frame(0, {"guild_id": "not-a-number"}, 2, "GUILD_MEMBER_ADD"), 0)
    assert isinstance(m, Malformed)
    assert (m.name, m.seq) == ("GUILD_MEMBER_ADD", 2)
    assert p.seq == 2
    assert p.state is State.CONNECTED


def test_malformed_ready_identifies_again():
    p = GatewayProtocol(TOKEN)
    hello(p)
    (r,) = p.receive(frame(0, {"session_id": 5}, 1, "READY"), 0)
    assert isinstance(r, Reconnect)
    assert r.resume is False


def test_rewind_and_requested_reconnect_resume_from_the_last_handed_over():
    p = GatewayProtocol(TOKEN)
    ready(p)
    p.receive(frame(0, {}, 5, "TYPING_START"), 0)
    p.rewind(3)
    p.rewind(4)  # never forward
    (r,) = p.request_reconnect("slow")
    assert isinstance(r, Reconnect)
    assert r.resume is True
    assert p.request_reconnect("again") == []
    (resume,) = sent(hello(p))
    assert resume["d"]["seq"] == 3


def test_saved_session_resumes_on_hello():
    p = GatewayProtocol(TOKEN, saved=SavedSession("s9", 41, "ws://r"))
    (resume,) = sent(hello(p))
    assert resume == {"op": 6, "d": {"token": TOKEN, "session_id": "s9", "seq": 41}}
    resumed, r = p.receive(frame(0, {}, 42, "RESUMED"), 0)
    assert resumed == Resumed("s9", 42)
    assert isinstance(r, Dispatch)
    assert r.name == "RESUMED"
    assert p.state is State.CONNECTED


def test_op7_reconnects_and_resumes():
    p = GatewayProtocol(TOKEN)
    ready(p)
    (r,) = p.receive(frame(7), 1)
    assert isinstance(r, Reconnect)
    assert r.resume is True


def test_op9_resumable_and_not():
    p = GatewayProtocol(TOKEN, rng=random.Random(5))
    ready(p)
    (r,) = p.receive(frame(9, True), 1)
    assert isinstance(r, Reconnect)
    assert r.resume is True
    ready(p)
    (r,) = p.receive(frame(9, False), 1)
    assert isinstance(r, Reconnect)
    assert r.resume is False
    assert 1.0 <= r.delay <= 5.0
    assert p.session_id is None
    (identify,) = sent(hello(p))
    assert identify["op"] == 2, "a fresh IDENTIFY after a non-resumable op 9"


@pytest.mark.parametrize("code", sorted(FATAL_MESSAGES))
def test_fatal_close_codes(code):
    p = GatewayProtocol(TOKEN)
    ready(p)
    (f,) = p.connection_lost(9.0, code)
    assert isinstance(f, Fatal)
    assert f.code == code
    assert TOKEN not in f.message


def test_fatal_messages_tell_the_operator_what_to_do():
    assert "DISCORD_BOT_TOKEN" in FATAL_MESSAGES[4004]
    assert "Server Members Intent" in FATAL_MESSAGES[4014]


@pytest.mark.parametrize("code", [4007, 4009])
def test_session_ending_codes_reidentify(code):
    p = GatewayProtocol(TOKEN)
    ready(p)
    (r,) = p.connection_lost(9.0, code)
    assert isinstance(r, Reconnect)
    assert r.resume is False
    assert p.session_id is None


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008])
def test_other_closes_resume(code):
    p = GatewayProtocol(TOKEN)
    ready(p)
    (r,) = p.connection_lost(9.0, code)
    assert isinstance(r, Reconnect)
    assert r.resume is True


def test_lost_before_any_session_identifies_again():
    p = GatewayProtocol(TOKEN)
    hello(p)
    (r,) = p.connection_lost(9.0, None)
    assert isinstance(r, Reconnect)
    assert r.resume is False


def test_unknown_opcodes_and_events_are_ignored_and_garbage_reconnects():
    p = GatewayProtocol(TOKEN)
    ready(p)
    assert p.receive(frame(42, {"x": 1}), 0) == []
    (d,) = p.receive(frame(0, {"x": 1}, 2, "SOMETHING_NEW"), 0)
    assert isinstance(d, Dispatch)
    (r,) = p.receive(b"{not json", 0)
    assert isinstance(r, Reconnect)
    assert r.resume is True


def test_repr_hides_the_token():
    p = GatewayProtocol(TOKEN)
    assert TOKEN not in repr(p)


def test_every_close_code_has_exactly_one_policy():
    policies = [RESUME_CODES, REIDENTIFY_CODES, FATAL_CODES]
    for code in CloseCode:
        if code is CloseCode.RESUMABLE_CLOSE:
            continue
        assert sum(code in p for p in policies) == 1, code
    assert {4004, 4010, 4011, 4012, 4013, 4014} == FATAL_CODES


@pytest.mark.parametrize("code", sorted(RESUME_CODES))
def test_resume_codes_keep_the_session(code):
    p = GatewayProtocol(TOKEN)
    ready(p)
    (r,) = p.connection_lost(1.0, code)
    assert isinstance(r, Reconnect)
    assert r.resume is True
    (resume,) = sent(hello(p))
    assert resume["op"] == 6


def test_after_fatal_the_protocol_refuses_to_reconnect():
    p = GatewayProtocol(TOKEN)
    ready(p)
    p.connection_lost(1.0, 4004)
    assert p.state is State.FAILED
    assert p.connection_lost(2.0, None) == []
    with pytest.raises(RuntimeError):
        p.connection_made()


def test_frames_after_a_reconnect_decision_are_ignored():
    p = GatewayProtocol(TOKEN)
    ready(p)
    p.receive(frame(7), 1)
    assert p.receive(frame(0, {}, 9, "TYPING_START"), 1) == []
    assert p.seq == 1
    assert p.tick(10_000) == []
    assert p.next_deadline() is None


def test_heartbeat_ack_and_op1_before_hello_are_harmless():
    p = GatewayProtocol(TOKEN)
    p.connection_made()
    assert p.receive(frame(11), 0) == []
    assert p.receive(frame(1), 0) == []


def test_send_repr_hides_the_token():
    p = GatewayProtocol(TOKEN)
    (identify,) = hello(p)
    assert TOKEN not in repr(identify)


@pytest.mark.parametrize("op", [2, 3, 4, 6, 8])
def test_client_only_opcodes_from_the_server_are_ignored(op):
    p = GatewayProtocol(TOKEN)
    ready(p)
    assert p.receive(frame(op, {"x": 1}), 1.0) == []
    assert p.state is State.CONNECTED


def test_no_hello_in_time_gives_up_on_the_connection():
    p = GatewayProtocol(TOKEN)
    p.connection_made(100.0)
    assert p.next_deadline() == 100.0 + HELLO_TIMEOUT
    assert p.tick(100.0 + HELLO_TIMEOUT - 1) == []
    (r,) = p.tick(100.0 + HELLO_TIMEOUT)
    assert isinstance(r, Reconnect)
    assert "HELLO" in r.reason
