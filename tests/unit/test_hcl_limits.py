"""Inputs too complex to check are refused rather than parsed for ever."""

from __future__ import annotations

from core.hcl.config import load_configuration


def test_an_operator_chain_is_refused_as_too_complex() -> None:
    # Given 100,000 chained operators (python-hcl2 copies the text once per level)
    text = "locals {\n  d = 1" + " + 1" * 100_000 + "\n}\n"
    # Then the file is refused as a syntax finding, not parsed level by level
    configuration = load_configuration({"main.tf": text})
    assert [e.code for e in configuration.syntax_errors] == ["syntax_error"]
