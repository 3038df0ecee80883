"""The vendored trimmed spec is exactly what scripts/vendor-openapi makes from Discord's full spec."""

import importlib.util
import json
from pathlib import Path

import pytest

from welcomebot.emulator.openapi import VENDORED, SpecValidator, full_spec

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "vendor-openapi"


def test_vendored_copy_is_current():
    source = full_spec()
    if source is None:
        pytest.skip("Discord's full spec (../shared/discord) is not beside this checkout")
    loader = importlib.machinery.SourceFileLoader("vendor_openapi", str(SCRIPT))
    spec = importlib.util.spec_from_loader("vendor_openapi", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    expected = module.trim(json.loads(source.read_text()))
    assert json.loads(VENDORED.read_text()) == expected, "run scripts/vendor-openapi"


def test_vendored_copy_validates_on_its_own():
    validator = SpecValidator(json.loads(VENDORED.read_text()))
    validator.validate_request("POST", "/channels/1/messages", {"content": "hi", "nonce": "n", "enforce_nonce": True})
