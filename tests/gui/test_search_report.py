"""The Search tab's searched-vs-random report in words, also for a search whose budget held no
report (core.nas.planning's 'search only') or cut its searched cell."""

from __future__ import annotations

from nasdet_gui.search_tab import report_markdown


def test_a_report_with_both_sides():
    text = report_markdown(
        {
            "searched": {"mean": 0.5, "std": 0.0, "accs": [0.5]},
            "random": {"mean": 0.4, "std": 0.0, "accs": [0.4]},
            "margin": 0.1,
        }
    )
    assert "50.0%" in text and "40.0%" in text and "+10.0 points" in text


def test_a_search_without_a_report_says_why():
    empty = {"mean": None, "std": None, "accs": []}
    afforded = "no final report (no time for one epoch of the searched cell on this machine)"
    text = report_markdown(
        {"searched": empty, "random": dict(empty), "margin": None, "afforded": afforded}
    )
    # markdown_text escapes the parentheses
    assert text.startswith(r"*No searched-vs-random report: no final report \(no time for one")
