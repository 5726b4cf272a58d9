"""The escalate action's Slack and Discord pages quote alert text (anyone holding the intake
token writes it): escaped, so a page never pings a channel, links out or runs markup."""

import json

from action_server.actions.escalate import EscalateParams, discord_payload, slack_payload

HOSTILE = EscalateParams(
    summary="<!channel> [approve here](http://evil.example/approve) <@U123> @everyone\x1b[2J",
    incident_id="inc-1",
    details={"alerts": "<http://evil.example|click> <script>x</script>"},
)


def test_a_slack_page_carries_no_live_mention_link_or_markup() -> None:
    page = json.dumps(slack_payload(HOSTILE), ensure_ascii=False)
    for raw in ("<!channel>", "<@U123>", "<http://", "http://evil", "<script>", "@everyone"):
        assert raw not in page, raw
    assert "\x1b" not in page
    assert "&lt;!channel&gt;" in page  # still readable, as text


def test_a_discord_page_pings_nobody_and_links_nowhere() -> None:
    payload = discord_payload(HOSTILE)
    assert payload["allowed_mentions"] == {"parse": []}
    page = json.dumps(payload, ensure_ascii=False)
    for raw in ("http://evil", "@everyone", "\x1b"):
        assert raw not in page, raw
    assert "<@U123>" not in page.replace("\\\\<@U123>", "")  # only its escaped form
