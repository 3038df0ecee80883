"""Assets: content-addressed and stored once, quotas with a message, atomic files, garbage collection, and
the card renderer reading a background through its ``asset:`` ref."""

import hashlib
import io
import os
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat

from actors import ThreadPoolActor
from welcomebot.adapters.cards import RenderedCards
from welcomebot.app.model import Join
from welcomebot.app.ports import WelcomeConfig
from welcomebot.render import AvatarFetcher, Renderer
from welcomebot.render.testing import dark_background, image_bytes, light_background
from welcomebot.settings import load_settings
from welcomebot.store.api import GuildConfig
from welcomebot.store.assets import GRACE_S, AssetStore, atomic_file, open_assets
from welcomebot.store.errors import AssetMissing, QuotaExceeded
from welcomebot.store.sqlite import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(tmp_path):
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    yield store
    await store.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def assets(db, tmp_path, clock):
    return AssetStore(db, tmp_path / "assets", quota_guild=1000, quota_total=1500, wall_clock=clock)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_identical_uploads_are_stored_once_under_their_hash(assets, db, tmp_path):
    data = b"\x89PNG normalized bytes"
    digest = hashlib.sha256(data).hexdigest()
    ref = await assets.put(1, data, "image/png", 3, 2)
    assert ref == f"asset:{digest}"
    assert await assets.put(2, data, "image/png", 3, 2) == ref, "same bytes from another guild: same asset"
    assert await assets.put(1, data, "image/png", 3, 2) == ref
    assert files(tmp_path / "assets") == [f"{digest[:2]}/{digest[2:]}"]
    assert [a.owner_guild for a in await db.list_assets()] == [1], "the first uploader's quota pays for it"
    assert (await db.asset_usage(1), await db.asset_usage(2)) == (len(data), 0)
    assert await assets.open(ref) == data


async def test_a_lost_file_is_written_again_by_the_next_identical_upload(assets, tmp_path):
    ref = await assets.put(1, b"bytes", "image/png", 1, 1)
    assets.path(ref.removeprefix("asset:")).unlink()
    with pytest.raises(AssetMissing, match="upload the image again"):
        await assets.open(ref)
    assert await assets.put(1, b"bytes", "image/png", 1, 1) == ref
    assert await assets.open(ref) == b"bytes"


async def test_guild_quota_is_enforced_with_a_message_and_nothing_stored(assets, db, tmp_path):
    await assets.put(1, b"a" * 600, "image/png", 1, 1)
    with pytest.raises(QuotaExceeded) as info:
        await assets.put(1, b"b" * 600, "image/png", 1, 1)
    assert str(info.value) == (
        "this server uses 600 bytes of its 1.0 KB asset quota and this upload needs 600 bytes more; "
        "remove unused backgrounds or upload a smaller image"
    )
    assert len(files(tmp_path / "assets")) == 1
    assert await db.asset_usage(1) == 600
    await assets.put(1, b"c" * 400, "image/png", 1, 1)  # exactly at the limit is fine


async def test_total_quota_is_enforced_with_a_message(assets, db):
    await assets.put(1, b"a" * 700, "image/png", 1, 1)
    await assets.put(2, b"b" * 700, "image/png", 1, 1)
    with pytest.raises(
        QuotaExceeded,
        match=r"^this bot uses 1.4 KB of its 1.5 KB asset quota .* "
        r"raise WELCOMEBOT_ASSET_QUOTA_TOTAL$",
    ):
        await assets.put(3, b"c" * 200, "image/png", 1, 1)
    assert await db.total_asset_usage() == 1400


async def test_garbage_collection_keeps_referenced_and_recent_assets(assets, db, tmp_path, clock):
    clock.now -= 2 * GRACE_S
    bg = await assets.put(1, b"background", "image/png", 1, 1)
    font = await assets.put(1, b"font", "font/ttf", 0, 0)
    old = await assets.put(2, b"replaced long ago", "image/png", 1, 1)
    clock.now += 2 * GRACE_S
    fresh = await assets.put(2, b"uploaded, config not saved yet", "image/png", 1, 1)
    await db.put_guild_config(GuildConfig(guild_id=1, background_ref=bg, options={"design": {"font": font}}))
    await db.put_guild_config(GuildConfig(guild_id=2, background_ref="builtin:aurora"))
    root = tmp_path / "assets"
    stray = root / "ee" / ("e" * 62)
    tmp = root / "ee" / ".tmp-crashed"
    for path in (stray, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by a crash")
        os.utime(path, (clock.now - 2 * GRACE_S,) * 2)
    recent_stray = root / "dd" / ("d" * 62)  # another process may be writing its row right now
    recent_stray.parent.mkdir()
    recent_stray.write_bytes(b"x")

    report = await assets.collect_garbage()

    assert (report.rows, report.files) == (1, 3)
    kept = {a.content_hash for a in await db.list_assets()}
    assert kept == {r.removeprefix("asset:") for r in (bg, font, fresh)}
    assert sorted(files(root)) == sorted([f"{h[:2]}/{h[2:]}" for h in kept] + [f"dd/{'d' * 62}"])
    with pytest.raises(AssetMissing):
        await assets.open(old)
    assert await assets.collect_garbage() == type(report)(0, 0, 0)


def test_atomic_file_leaves_nothing_when_the_write_fails(tmp_path):
    target = tmp_path / "a" / "file"

    def crash_mid_write() -> None:
        with atomic_file(target) as f:
            f.write(b"half")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError, match="crash mid-write"):
        crash_mid_write()
    assert list((tmp_path / "a").iterdir()) == []
    with atomic_file(target) as f:
        f.write(b"whole")
    assert target.read_bytes() == b"whole"


async def test_refs_that_are_not_assets(assets):
    assert await assets.background("builtin:aurora") is None
    assert await assets.background("asset:" + "f" * 64) is None, "missing: default background, with a warning"
    with pytest.raises(AssetMissing, match="not a valid asset reference"):
        await assets.open("asset:../../etc/passwd")
    with pytest.raises(AssetMissing, match="not an asset reference"):
        await assets.open("https://example.com/x.png")


async def test_settings_place_assets_in_the_data_dir_with_the_quotas(db, tmp_path):
    env = {"WELCOMEBOT_DATA_DIR": str(tmp_path / "data"), "WELCOMEBOT_ASSET_QUOTA_GUILD": "2MB"}
    store = open_assets(db, load_settings(env))
    assert (store.root, store.quota_guild, store.quota_total) == (tmp_path / "data" / "assets", 2_000_000, 2 * 10**9)


async def test_cards_draw_the_background_an_asset_ref_names(db, tmp_path):
    assets = AssetStore(db, tmp_path / "assets", quota_guild=10**7, quota_total=10**7)
    light = await assets.put(1, image_bytes(light_background(800, 450)), "image/png", 800, 450)
    dark = await assets.put(1, image_bytes(dark_background(800, 450)), "image/png", 800, 450)
    join = Join(guild_id=1, user_id=99 << 22, joined_at="x", username="ada")
    async with httpx.AsyncClient() as http:
        cards = RenderedCards(
            Renderer(),
            AvatarFetcher(http),
            cdn_base="http://127.0.0.1:9",
            pool=ThreadPoolActor(1),
            background=assets.background,
        )
        brightness = []
        for ref in (light, dark):
            card = await cards.render(
                join, WelcomeConfig(guild_id=1, channel_id=2, message_template="hi", background_ref=ref), None
            )
            assert card is not None
            corner = Image.open(io.BytesIO(card.data)).convert("L").crop((0, 0, 40, 40))
            brightness.append(ImageStat.Stat(corner).mean[0])
    assert brightness[0] > brightness[1] + 40, f"the light asset must show as a lighter card: {brightness}"


async def test_an_upload_of_bytes_already_stored_is_fresh_again_for_the_collection(assets, db, clock):
    clock.now -= 2 * GRACE_S
    ref = await assets.put(1, b"an old background nobody uses", "image/png", 1, 1)
    clock.now += 2 * GRACE_S
    assert await assets.put(2, b"an old background nobody uses", "image/png", 1, 1) == ref  # chosen again
    report = await assets.collect_garbage()  # before the admin's config is saved
    assert report.rows == 0
    assert await assets.open(ref) == b"an old background nobody uses"
