"""Platform HTML is only ever shown after the one nh3 cleaner."""

from __future__ import annotations

from listener.content import clean_html


def test_scripts_handlers_and_javascript_links_are_removed() -> None:
    dirty = (
        '<p onclick="steal()">Hi <b>there</b></p><script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a><a href="https://fietsbaan.example">site</a>'
        '<img src="https://tracker.example/p.gif">'
    )
    clean = clean_html(dirty)
    assert clean is not None
    assert "<script" not in clean and "alert" not in clean and "onclick" not in clean
    assert "<img" not in clean
    assert "<b>there</b>" in clean
    assert 'href="https://fietsbaan.example"' in clean
    assert 'rel="noopener noreferrer nofollow ugc"' in clean


def test_no_html_stays_none() -> None:
    assert clean_html(None) is None
