"""Cards rendered for real: avatars from the emulator's CDN, fallbacks when the CDN fails."""

import io

import httpx
import pytest
from PIL import Image

from actors import ThreadPoolActor
from welcomebot.adapters.cards import RenderedCards
from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.ports import WelcomeConfig
from welcomebot.emulator.testing import running_emulator
from welcomebot.render import AvatarFetcher, CardSpec, Renderer

CONFIG = WelcomeConfig(guild_id=1, channel_id=2, message_template="hi {user}")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def join_of(member: dict[str, str], guild_id: int) -> Join:
    return Join(guild_id=guild_id, user_id=int(member["user_id"]), joined_at=member["joined_at"],
                username=member["username"], global_name="Zoë 🌸 さくら", avatar=member["avatar"])  # fmt: skip


async def test_cards_for_static_animated_and_missing_avatars(renderer):
    async with running_emulator(guilds=1) as emu, httpx.AsyncClient() as http:
        cards = RenderedCards(renderer, AvatarFetcher(http), cdn_base=emu.info.cdn_base,
                              pool=ThreadPoolActor(2))  # fmt: skip
        guild_id = int((await emu.control.guilds())[0]["id"])
        guild = GuildInfo(guild_id=guild_id, name="Cozy Corner", member_count=1234)
        for kind in ("static", "animated", "none"):
            member = await emu.control.join(guild_id, avatar=kind)
            card = await cards.render(join_of(member, guild_id), CONFIG, guild)
            assert card is not None
            image = Image.open(io.BytesIO(card.data))
            assert image.size == (1024, 450)
            assert card.description.startswith("Welcome card for Zoë")
        assert emu.emulator.cdn.requests >= 3


async def test_cdn_trouble_still_renders_a_card(renderer):
    async with httpx.AsyncClient() as http:
        cards = RenderedCards(renderer, AvatarFetcher(http), cdn_base="http://127.0.0.1:9",
                              pool=ThreadPoolActor(1))  # fmt: skip
        join = Join(guild_id=1, user_id=99 << 22, joined_at="x", username="ada", avatar="a" * 32)
        card = await cards.render(join, CONFIG, None)
    assert card is not None
    assert Image.open(io.BytesIO(card.data)).size == (1024, 450)


class _RaisesFor(Renderer):
    """A renderer with a bug for one name: any exception type, not only RenderError."""

    def render(self, spec: CardSpec) -> bytes:
        if spec.name == "boom":
            raise RuntimeError("renderer bug")
        return super().render(spec)


async def test_a_renderer_crash_costs_one_member_their_card_not_the_welcome():
    async with httpx.AsyncClient() as http:
        cards = RenderedCards(_RaisesFor(), AvatarFetcher(http), cdn_base="http://127.0.0.1:9",
                              pool=ThreadPoolActor(1))  # fmt: skip
        crashing = Join(guild_id=1, user_id=98 << 22, joined_at="x", username="boom")
        assert await cards.render(crashing, CONFIG, None) is None  # text only, nothing raised
        bismillah = Join(guild_id=1, user_id=97 << 22, joined_at="x", username="Ada \ufdfd")
        assert await cards.render(bismillah, CONFIG, None) is not None
        nxt = Join(guild_id=1, user_id=96 << 22, joined_at="x", username="ada")
        assert await cards.render(nxt, CONFIG, None) is not None
    assert cards.text_only == 1
    assert cards.run_fallbacks > 0
