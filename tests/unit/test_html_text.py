"""HTML to blocks: visible text only, heading paths, and words never glued together."""

from __future__ import annotations

import pytest

from index.html_text import html_to_blocks


def texts(html: str) -> list[str]:
    return [text for _, text in html_to_blocks(html)[1]]


def test_docstring_example() -> None:
    assert html_to_blocks("<h1>A</h1><p>x <b>y</b></p><script>z()</script>") == \
        ("", [(("A",), "A"), (("A",), "x y")])


@pytest.mark.parametrize("hidden", [
    "<script>var secret = 1;</script>", "<style>.secret { color: red }</style>", "<nav>secret menu</nav>",
    "<noscript>secret</noscript>", "<template><p>secret</p></template>", "<aside>secret</aside>",
    "<footer>secret</footer>", "<div role='navigation'>secret</div>", "<div role='banner'>secret</div>",
    "<svg><text>secret</text></svg>", "<form><label>secret</label><input name=q></form>",
    "<nav><nav>secret</nav>secret</nav>", "<iframe>secret</iframe>",
])
def test_invisible_and_navigation_parts_never_reach_the_text(hidden: str) -> None:
    blocks = texts(f"<body><p>before</p>{hidden}<p>after</p></body>")
    assert blocks == ["before", "after"]


def test_the_previous_next_links_of_docbook_and_texinfo_manuals_are_dropped() -> None:
    # As the Debian Administrator's Handbook (Publican) and GNU manuals (makeinfo) write them: the
    # links led the first chunk of every page ("Download the ebook Prev The Debian Administrator's
    # Handbook Next …") and ended its last ("Prev Chapter 6 … Up Home Next 6.3 …").
    publican = ('<body><div id="banner"><a href="x"><span class="text">Download the ebook</span></a></div>'
                '<ul class="docnav top"><li class="previous"><a href="a.html"><strong>Prev</strong></a></li>'
                '<li class="home">The Handbook</li></ul><h2>6.2. APT</h2><div class="para">APT is vast.</div>'
                '<ul class="docnav"><li class="next"><a href="b.html"><strong>Next</strong>6.3. apt-cache</a></li></ul>'
                '</body>')
    assert texts(publican) == ["6.2. APT", "APT is vast."]
    docbook = ('<div class="navheader"><table><tr><td>Prev</td><td>Next</td></tr></table></div>'
               '<h1>Intro</h1><p>Body text.</p><div class="navfooter"><p>Up Home</p></div>')
    assert texts(docbook) == ["Intro", "Body text."]
    texinfo = ('<div class="header"><p>Next: <a href="s.html">Simple Example</a>, Up: Using libffi</p></div><hr>'
               '<h3>2.1 The Basics</h3><p>libffi assumes a pointer to the function.</p>')
    assert texts(texinfo) == ["2.1 The Basics", "libffi assumes a pointer to the function."]


def test_title_is_read_from_head_only() -> None:
    title, blocks = html_to_blocks("<html><head><title> The  Page </title></head>"
                                   "<body><svg><title>icon</title></svg><p>body</p></body></html>")
    assert title == "The Page"
    assert [t for _, t in blocks] == ["body"]


def test_heading_paths_follow_levels() -> None:
    _, blocks = html_to_blocks("<h1>Top</h1><p>a</p><h2>Mid</h2><p>b</p><h3>Low</h3><p>c</p>"
                               "<h2>Mid2</h2><p>d</p><h1>Top2</h1><p>e</p>")
    assert [(path, text) for path, text in blocks if len(text) == 1] == [
        (("Top",), "a"), (("Top", "Mid"), "b"), (("Top", "Mid", "Low"), "c"), (("Top", "Mid2"), "d"),
        (("Top2",), "e")]


def test_heading_anchor_pilcrow_is_dropped() -> None:
    _, blocks = html_to_blocks('<h2>Install<a class="headerlink" href="#i">¶</a></h2><p>x</p>')
    assert blocks[0] == (("Install",), "Install")


def test_text_nodes_join_with_spaces_at_block_edges_and_not_inside_words() -> None:
    assert texts("<p>foo<b>bar</b> baz<i>qux</i></p><div>one</div><div>two</div>") == ["foobar bazqux", "one",
                                                                                         "two"]
    assert texts("<p>a&nbsp;b &amp; c</p>") == ["a b & c"]
    assert texts("<p>line<br>break</p>") == ["line break"]


def test_breaks_inside_table_cells_and_headings_do_not_glue_words() -> None:
    """Regression: "<td>a<br>b</td>" became "ab" and "<h1>A<br>B</h1>" became "AB"."""
    assert texts("<table><tr><td>a<br>b</td><td>c<div>d</div>e</td></tr></table>") == ["a b | c d e"]
    assert texts("<table><tr><td><ul><li>x</li><li>y</li></ul></td></tr></table>") == ["x y"]
    _, blocks = html_to_blocks("<h1>Annual<br>Report</h1><p>t</p>")
    assert blocks[-1] == (("Annual Report",), "t")


def test_table_rows_become_lines() -> None:
    assert texts("<table><thead><tr><th>Item</th><th>Cost</th></tr></thead>"
                 "<tbody><tr><td>Chair</td><td>200</td></tr><tr><td></td><td>5</td></tr></tbody></table>") == \
        ["Item | Cost", "Chair | 200", "5"]


def test_pre_keeps_line_breaks() -> None:
    assert texts("<pre>def f():\n    return 1\n</pre><p>after</p>") == ["def f():\n    return 1", "after"]


def test_body_without_closing_head_is_read() -> None:
    """Regression: "</head>" is optional in HTML; without it the whole body was skipped."""
    assert texts("<html><head><meta charset=utf-8><title>T</title><body><p>Hello there</p></body></html>") == \
        ["Hello there"]
    title, blocks = html_to_blocks("<head><title>T</title><p>implied body")
    assert (title, [t for _, t in blocks]) == ("T", ["implied body"])


def test_comments_and_unclosed_paragraphs() -> None:
    assert texts("<p>a<!-- hidden -->b</p>") == ["ab"]
    assert texts("<p>one<p>two<div>three</div>") == ["one", "two", "three"]


def test_deep_nesting_has_no_recursion() -> None:
    html = "<div><section>" * 50_000 + "<p>core</p>" + "</section></div>" * 50_000
    assert texts(html) == ["core"]


@pytest.mark.parametrize("html", [
    "<word<script>secret()</script><p>ok</p>",  # parsed as one tag named "word<script"
    "<pre>x <Word\n<script>secret()</script></pre><p>ok</p>",  # "<script" parsed as an attribute name
    "<p<nav>secret menu</nav><p>ok</p>",
])
def test_a_stray_angle_bracket_does_not_unhide_a_script(html: str) -> None:
    """Regression (found by tests/unit/test_fuzz.py): the script body after "<word" became text."""
    assert all("secret" not in text for text in texts(html))
    assert texts(html)[-1] == "ok"


def test_quoted_attribute_values_are_not_tags() -> None:
    assert texts('<div title="<script>">visible</div>') == ["visible"]


def test_sphinx_api_entries_head_their_description_and_chrome_is_dropped() -> None:
    page = ('<h1>shutil<a class="headerlink" href="#s">¶</a></h1>'
            '<dl class="py function"><dt class="sig sig-object py" id="shutil.copy2">shutil.copy2(src, dst)'
            '<a class="headerlink" href="#c">¶</a></dt><dd><p>Like copy() but keeps metadata.</p></dd></dl>'
            '<p>After the entry.</p>'
            '<aside class="footnote brackets"><p>Footnote text stays.</p></aside><aside><p>Sidebar.</p></aside>'
            '<div class="footer">© Copyright 2001 Found a bug?</div>')
    _, blocks = html_to_blocks(page)
    assert blocks == [
        (("shutil",), "shutil"),
        (("shutil", "shutil.copy2(src, dst)"), "shutil.copy2(src, dst)"),
        (("shutil", "shutil.copy2(src, dst)"), "Like copy() but keeps metadata."),
        (("shutil",), "After the entry."),  # the API entry ended with its <dl>
        (("shutil",), "Footnote text stays."),
    ]


def test_a_table_inside_a_cell_keeps_the_outer_cells() -> None:
    # issue 18 item 5: the inner <tr> used to discard the outer row.
    html = ("<table><tr><td>The warranty lasts seven years.</td><td><table><tr><td>Model A</td>"
            "<td>120 euros</td></tr></table></td></tr></table>")
    assert texts(html) == ["The warranty lasts seven years.", "Model A | 120 euros"]
    assert texts("<table><tr><td>x<table><tr><td>y</td></tr></table>z</td><td>w</td></tr></table>") == \
        ["x", "y", "z | w"]


def test_optional_end_tags_and_loose_row_text_keep_every_cell() -> None:
    assert texts("<table><tr><td>a<td>b<tr><td>c</table><p>after") == ["a | b", "c", "after"]
    assert texts("<table><tr>loose<td>c</td></tr></table>") == ["loose | c"]


def _nested_table(depth: int, counter: list[int]) -> str:
    cells = []
    for _ in range(2):
        counter[0] += 1
        inner = _nested_table(depth - 1, counter) if depth else ""
        cells.append(f"<td>cell{counter[0]:06d} {inner}</td>")
    return f"<table><tr>{cells[0]}{cells[1]}</tr><tr><td>tail{counter[0]:06d}</td></tr></table>"


def test_deeply_and_widely_nested_tables_keep_every_cell_in_order() -> None:
    counter = [0]
    html = "".join(_nested_table(9, counter) for _ in range(40))  # 40 trees of 2**10 - 1 tables
    expected = __import__("re").findall(r"(?:cell|tail)\d{6}", html)
    found = __import__("re").findall(r"(?:cell|tail)\d{6}", " ".join(texts(html)))
    assert len(expected) > 100_000
    assert found == expected
