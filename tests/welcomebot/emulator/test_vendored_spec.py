"""The vendored trimmed spec is exactly what scripts/vendor-openapi makes from Discord's full spec."""

import importlib.util
import json
from pathlib import Path

import pytest

from welcomebot.emulator.gateway_schemas import SCHEMAS
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


def test_gateway_schemas_are_what_the_docs_tables_say():
    """welcomebot/emulator/gateway-schemas.json is exactly what scripts/gateway-schemas reads from the docs."""
    found = [p / "shared" / "discord" / "api-docs" for p in SCRIPT.parents if (p / "shared" / "discord").is_dir()]
    if not found:
        pytest.skip("Discord's docs (../shared/discord) are not beside this checkout")
    script = SCRIPT.with_name("gateway-schemas")
    loader = importlib.machinery.SourceFileLoader("gateway_schemas_script", str(script))
    spec = importlib.util.spec_from_loader("gateway_schemas_script", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    assert json.loads(SCHEMAS.read_text()) == module.build(found[0]), "run scripts/gateway-schemas"
