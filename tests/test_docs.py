"""The docs cannot drift from the code: settings, metrics, log fields, close-code messages, permissions, links."""

import re
from pathlib import Path

import pytest

from welcomebot.app.roles import MANAGE_ROLES
from welcomebot.gateway.codes import FATAL_MESSAGES
from welcomebot.logs import FIELDS
from welcomebot.rest.permissions import WELCOME_NEEDS
from welcomebot.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EMBED_LINKS = 1 << 14


def read(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_first_column(text: str) -> list[str]:
    """The backticked names in the first column of the markdown tables in ``text``."""
    return re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE)


def test_readme_starts_with_the_two_commands():
    assert (
        (ROOT / "README.md")
        .read_text()
        .startswith(
            "# welcomebot\n\n```sh\n"
            "scripts/sandbox   # main job, no token needed\n"
            "scripts/test      # the tests: ruff, mypy --strict, pytest (installs what it needs)\n"
            "```\n"
        )
    )


@pytest.mark.parametrize("name", ["discord-setup.md", "operator-guide.md", "architecture.md", "troubleshooting.md",
                                  "backups.md"])  # fmt: skip
def test_readme_links_every_doc(name):
    assert f"](docs/{name})" in (ROOT / "README.md").read_text()


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_resolve():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name}: broken link {target}"
            if anchor and file.suffix == ".md":
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", file.read_text(), re.MULTILINE)}
                assert anchor in headings, f"{page.name}: no heading for #{anchor} in {file.name}"


def test_configuration_reference_lists_every_environment_variable():
    listed = table_first_column(section(read("operator-guide.md"), "Configuration reference"))
    variables = [name for name in listed if name.isupper()]
    assert variables == [v.name for v in ENV_VARS], "same variables, same order as welcomebot/settings.py"


def _metric_names() -> set[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "welcomebot").rglob("*.py"))
    pattern = r"(Histogram|Counter|Gauge|\.gauge|\.counter)\(\s*\"(welcomebot_[a-z0-9_]+)\""
    return {
        (name + "_total" if kind in ("Counter", ".counter") else name) for kind, name in re.findall(pattern, source)
    }


def test_metrics_list_is_the_code_s():
    documented = set(table_first_column(section(read("operator-guide.md"), "Metrics")))
    names = _metric_names()
    assert len(names) >= 15, "the pattern still finds the metrics"
    assert documented == names


def test_log_fields_are_documented():
    assert table_first_column(section(read("operator-guide.md"), "Logs")) == list(FIELDS)


def test_systemd_unit_restarts_on_failure_and_is_hardened():
    unit = section(read("operator-guide.md"), "systemd")
    for line in ("Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "KillSignal=SIGTERM"):
        assert f"\n{line}\n" in unit, line


def test_troubleshooting_quotes_every_fatal_close_code_message():
    text = read("troubleshooting.md")
    for code, message in FATAL_MESSAGES.items():
        assert f"`{message}` | {int(code)} |" in text, code


def test_invite_links_carry_the_computed_permissions():
    text = read("discord-setup.md")
    base = 0
    for permission, _name in WELCOME_NEEDS:
        base |= permission
    assert base == 35840
    for permissions in (base, base | MANAGE_ROLES, base | MANAGE_ROLES | EMBED_LINKS):
        assert f"&permissions={permissions}&" in text or f"`permissions={permissions}`" in text, permissions
    assert text.count("scope=bot+applications.commands") == 2
    assert f"**`{base}`**" in text


def _migrated_tables() -> set[str]:
    import sqlite3

    from welcomebot.store.migrations import apply_migrations

    conn = sqlite3.connect(":memory:")
    try:
        apply_migrations(conn, "sqlite")
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_privacy_page_names_every_table_of_the_schema_and_no_other():
    documented = table_first_column(section(read("privacy.md"), "Tables"))
    assert sorted(documented) == sorted(_migrated_tables())


def test_readme_links_the_privacy_page():
    assert "](docs/privacy.md)" in (ROOT / "README.md").read_text()
