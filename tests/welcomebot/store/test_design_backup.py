"""A guild's card design and its uploaded font come back from a backup: the design decodes to the same value,
the font asset is restored and still referenced (so garbage collection keeps it)."""

from welcomebot.render import CardDesign, Shape, Theme
from welcomebot.render.design import design_of, options_with_design, parse_background
from welcomebot.render.testing import latin_only_font
from welcomebot.store.api import GuildConfig
from welcomebot.store.assets import AssetStore
from welcomebot.store.backup import restore_backup, write_backup
from welcomebot.store.sqlite import SqliteStore


async def test_design_and_font_survive_backup_and_restore(tmp_path):
    source = await SqliteStore.open(tmp_path / "src.sqlite3")
    assets = AssetStore(source, tmp_path / "src-assets", quota_guild=10**7, quota_total=10**8)
    font = latin_only_font()
    ref = await assets.put(7, font, "font/ttf", 0, 0)
    design = CardDesign(theme=Theme.BANNER, shape=Shape.ROUNDED, background=parse_background("#ff0080,#7928ca@90"),
                        text_color="#1a1a2e", font=ref, animated=True)  # fmt: skip
    await source.put_guild_config(GuildConfig(guild_id=7, options=options_with_design({"behaviour": {}}, design)))
    archive = tmp_path / "backup.tar.gz"
    await write_backup(source, assets, archive)
    await source.close()

    target = await SqliteStore.open(tmp_path / "dst.sqlite3")
    try:
        restored_assets = AssetStore(target, tmp_path / "dst-assets", quota_guild=10**7, quota_total=10**8)
        await restore_backup(target, restored_assets, archive)
        config = await target.get_guild_config(7)
        assert config is not None
        assert design_of(config.options) == design
        assert config.options["behaviour"] == {}
        assert await restored_assets.open(ref) == font
        assert ref.removeprefix("asset:") in await target.referenced_assets()
    finally:
        await target.close()
