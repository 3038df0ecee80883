"""The container image gets its package from exactly the build context (.dockerignore applied): a wheel built
from that context must hold every migration, or `welcomebot migrate` in the image has nothing to apply."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) per .dockerignore line, in order, as Docker's patternmatcher reads them."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                regex += ".*"
                i += 2
                if pattern.startswith("/", i):
                    regex, i = regex[:-2] + "(?:.*/)?", i + 1
                continue
            char = pattern[i]
            regex += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
            i += 1
        rules.append((not negated, re.compile(regex)))
    return rules


def _in_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    # A pattern that matches a file or any folder above it decides; the last one to match wins.
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for excludes, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            excluded = excludes
    return not excluded


def build_context(dest: Path) -> None:
    """Copy the files `docker build .` would send, keeping symlinks as symlinks (as the daemon gets them)."""
    rules = _rules()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for relative in tracked.decode().split("\0"):
        source = ROOT / relative
        if not relative or not _in_context(relative, rules) or not (source.is_symlink() or source.exists()):
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def test_dockerignore_reading():
    rules = _rules()
    assert _in_context("welcomebot/store/sql/sqlite/0001_initial.sql", rules)
    assert _in_context("pyproject.toml", rules)
    assert not _in_context("tests/conftest.py", rules)
    assert not _in_context("welcomebot/__pycache__/x.pyc", rules)


def test_a_wheel_built_from_the_container_build_context_holds_the_migrations(tmp_path):
    context, wheels = tmp_path / "context", tmp_path / "wheels"
    build_context(context)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
                    str(context)], check=True, capture_output=True, timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("welcomebot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.endswith(".sql")}
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "welcomebot" / "store" / "sql").rglob("*.sql")}
    assert shipped, "the migrations live in welcomebot/store/sql/<backend>/"
    assert packed == shipped
