"""The guild's card design through the pipeline's card port: theme size, animated avatars from the CDN,
animations interleaved with static cards in the render pool, stored designs decoded with a safe fallback."""

import io

import httpx
import msgspec
import pytest
import trio
import trio.testing
from PIL import Image

from actors import Priority, ThreadPoolActor
from welcomebot.adapters.cards import RenderedCards, render_card
from welcomebot.adapters.store import to_welcome_config
from welcomebot.app.model import GuildInfo, Join
from welcomebot.app.ports import WelcomeConfig
from welcomebot.emulator.testing import running_emulator
from welcomebot.render import AvatarFetcher, CardDesign, CardSpec, Renderer, Theme
from welcomebot.render.design import design_to_options
from welcomebot.render.testing import dark_background, image_bytes
from welcomebot.store.api import GuildConfig


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def config(design: CardDesign) -> WelcomeConfig:
    return WelcomeConfig(guild_id=1, channel_id=2, message_template="hi {user}", design=design)


def join_of(member: dict[str, str], guild_id: int) -> Join:
    return Join(guild_id=guild_id, user_id=int(member["user_id"]), joined_at=member["joined_at"],
                username=member["username"], avatar=member["avatar"])  # fmt: skip


async def test_theme_size_and_animated_avatar(renderer):
    async with running_emulator(guilds=1) as emu, httpx.AsyncClient() as http:
        cards = RenderedCards(renderer, AvatarFetcher(http), cdn_base=emu.info.cdn_base, pool=ThreadPoolActor(2))
        guild_id = int((await emu.control.guilds())[0]["id"])
        guild = GuildInfo(guild_id=guild_id, name="Cozy", member_count=7)
        member = await emu.control.join(guild_id, avatar="animated")
        join = join_of(member, guild_id)

        banner = await cards.render(join, config(CardDesign(theme=Theme.BANNER)), guild)
        assert banner is not None
        still = Image.open(io.BytesIO(banner.data))
        assert still.size == (1024, 256)
        assert not getattr(still, "is_animated", False)  # animation is off: the first frame

        moving = await cards.render(join, config(CardDesign(animated=True)), guild)
        assert moving is not None
        image = Image.open(io.BytesIO(moving.data))
        assert image.format == "WEBP"
        assert getattr(image, "n_frames", 1) == 4  # the emulator's animated avatars have 4 frames
        assert moving.filename.endswith(".webp")


async def test_animation_does_not_hold_up_static_cards(renderer):
    """One render thread: static cards queued while an animation renders finish before it does."""
    pool = ThreadPoolActor(1)
    frames = [dark_background(160, 90).rotate(i * 10) for i in range(24)]
    moving = image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0)
    done: list[str] = []

    async def animated():
        await render_card(pool, renderer, CardSpec(name="A", background=moving, design=CardDesign(animated=True)),
                          Priority.BATCH)  # fmt: skip
        done.append("animated")

    async def static(i: int):
        await render_card(pool, renderer, CardSpec(name=f"S{i}"), Priority.BATCH)
        done.append(f"static{i}")

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(animated)
            await trio.testing.wait_all_tasks_blocked()  # the animation holds the thread
            for i in range(3):
                nursery.start_soon(static, i)
    assert done[-1] == "animated"
    assert sorted(done[:3]) == ["static0", "static1", "static2"]


def test_stored_design_is_decoded_and_a_broken_one_falls_back(caplog):
    design = CardDesign(theme=Theme.SIDE, text_color="#112233")
    good = GuildConfig(guild_id=5, options={"design": design_to_options(design), "behaviour": {}})
    assert to_welcome_config(good).design == design
    broken = GuildConfig(guild_id=5, options={"design": {"theme": "from-a-future-version"}})
    assert to_welcome_config(broken).design == CardDesign()
    assert "stored card design is invalid" in caplog.text


class CountingPool(ThreadPoolActor):
    """Counts animated cards in progress: from their ``start`` step until their ``finish``."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads)
        self.in_progress = self.most = 0

    async def run(self, fn, *args, priority=Priority.BATCH):  # type: ignore[override]
        step = getattr(fn, "__name__", "")
        if step == "start":
            self.in_progress += 1
            self.most = max(self.most, self.in_progress)
        try:
            return await super().run(fn, *args, priority=priority)
        finally:
            if step == "finish":
                self.in_progress -= 1


async def test_animated_cards_in_progress_are_bounded_by_the_pool(renderer):
    """Each one holds its frames until encoded (~90 MB): a raid must not hold a card's worth per member at once."""
    frames = [dark_background(160, 90).rotate(i * 10) for i in range(3)]
    moving = image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0)

    async def background(ref: str) -> bytes:
        await trio.lowlevel.checkpoint()
        return moving

    pool = CountingPool(2)
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(404))) as http:
        cards = RenderedCards(renderer, AvatarFetcher(http), cdn_base="http://cdn.invalid", pool=pool,
                              background=background)  # fmt: skip
        animated = msgspec.structs.replace(config(CardDesign(animated=True)), background_ref="asset:moving")
        results = []

        async def one(i: int) -> None:
            results.append(await cards.render(Join(guild_id=1, user_id=i, joined_at="a", username=f"u{i}"), animated,
                                              None))  # fmt: skip

        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for i in range(6):
                    nursery.start_soon(one, i)
    assert len(results) == 6
    assert all(card is not None and card.filename.endswith(".webp") for card in results)
    assert pool.most == 2
