"""Fixtures every test may use. Layer-specific fixtures live in the conftest.py beside their tests."""
