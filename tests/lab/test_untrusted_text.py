"""The escaping rules for untrusted text, one target at a time, on hostile input."""

import pytest

from lab.untrusted_text import defang, discord, label, markdown, markdown_code, plain, quoted, slack

ESCAPES = "a\x1b[2Jb\x1b]8;;http://e/\x07c\x9b31m\u202ed\u200be\x00f\x7fg"


def test_plain_drops_control_and_invisible_characters_but_keeps_lines() -> None:
    assert plain(ESCAPES) == "a[2Jb]8;;http://e/c31mdefg"
    assert plain("one\r\ntwo\rthree\u2028four\tfive") == "one\ntwo\nthree\nfour\tfive"
    assert plain("one\n\n  two\tthree", one_line=True) == "one two three"
    assert plain("x" * 10, limit=5) == "xxxx…"


def test_markdown_renders_as_its_own_characters() -> None:
    text = markdown("<script>x</script> [ok](http://evil.example/a) `c` *e* _u_ | ~s~ &amp;")
    assert text == (
        r"&lt;script&gt;x&lt;/script&gt; \[ok\](http\[:\]//evil\[.\]example/a) \`c\` \*e\* "
        r"\_u\_ \| \~s\~ &amp;amp;"
    )
    assert markdown("## heading\n```\nfence") == r"\## heading \`\`\` fence"
    assert markdown("case#1") == "case#1"
    assert markdown("- item") == r"\- item" and markdown("1. item") == r"1\. item"
    assert markdown("1.5 s and 3) later") == "1.5 s and 3) later"
    assert markdown("> quote") == "&gt; quote"
    assert markdown("www.evil.example/x") == r"www\[.\]evil\[.\]example/x"


@pytest.mark.parametrize(
    ("name", "shown"),
    [("db_pool_waiting", "`db_pool_waiting`"), ("a`b <c>", r"a\`b &lt;c&gt;")],
)
def test_markdown_code_only_for_plain_names(name: str, shown: str) -> None:
    assert markdown_code(name) == shown


def test_labels_are_quoted_unless_plain_names() -> None:
    assert label("TargetDown") == "TargetDown" and label("target-db") == "target-db"
    assert label("Run “this” now") == '“Run "this" now”'
    assert quoted("a\nb") == "“a b”"


def test_slack_has_no_live_mention_or_link() -> None:
    text = slack("<!channel> <@U123> <http://x|y> @here mail a@b.c [l](https://e.x)")
    assert text == (
        "&lt;!channel&gt; &lt;@\u200bU123&gt; &lt;http[:]//x|y&gt; @\u200bhere "
        "mail a@b.c [l](https[:]//e[.]x)"
    )


def test_discord_has_no_live_mention_markup_or_link() -> None:
    text = discord("<@123> @everyone [l](http://e.x) **b**\n# h\n> q\n- i")
    assert text == (
        "\\<@\u200b123\\> @\u200beveryone \\[l\\](http\\[:\\]//e\\[.\\]x) \\*\\*b\\*\\*\n"
        "\\# h\n\\> q\n\\- i"
    )


def test_defang_keeps_the_url_readable() -> None:
    assert defang("see https://a.b.c/d?e=f.g") == "see https[:]//a[.]b[.]c/d?e=f.g"
