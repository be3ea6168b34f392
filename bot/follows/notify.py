"""`notify_new_papers`: after papers are stored, tell followers and libraries what is new.

Called by the digest cycle after its store step and by `paperbot fetch-arxiv` /
`backfill-arxiv`, with the ids they stored. It also looks at every paper changed since the
last look (papers.rev above a watermark in `meta`), so papers that came in another way
(a shared link, an import) are matched at the next fetch.

Follows and alerts: a paper is new to a follow when it was first stored after the follow
was made (a new follow does not replay the back catalogue) and came out (published or
announced) at most NEW_WITHIN_DAYS before it was stored (an import or a backfill of old
papers is not news). One message per (follower, paper), listing every reason ("New
paper by Tri Dao · Matches your alert “kv cache”").

Revisions: a paper in a workspace's library whose latest announcement is a replacement on
a later day than it joined the library (storage.follows.revisions). Posted in the thread
where it was first shared; when that fails (channel archived, bot not in it) or it was
never shared, to each user who saved it, by DM.

Once. Each notice is a unique row (follow_notices per (follow, paper); revision_notices per
(workspace, paper, version)) inserted before posting; only the inserter posts. Slack
saying no before anything was posted (the token, conversations.open) deletes the claim so
a later run tries again; a channel or DM that is gone, or a post that failed in a way that
may have delivered it (a timeout), marks it failed. The crash window: a process killed
between the claim and the post leaves a "claimed" row that is never retried: that notice
is lost rather than risked twice. A notice is a nicety; a duplicate is noise.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import follow_notice_message, revision_notice_message
from bot.digest.poster import ChannelGone, SlackTransient, WorkspaceGone, team_poster
from bot.follows import match
from storage import follows as repo
from storage.feedback import remember_message
from storage.library import first_share
from storage.models import Paper

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# A paper stored now but out for longer than this (an import, a backfill, a paper the Hub
# trends weeks later) is not announced to follows: they want what is new.
NEW_WITHIN_DAYS = 30


@dataclass
class NotifyReport:
    follow_notices: int = 0  # messages posted for follows and alerts
    revision_notices: int = 0  # revisions announced (a thread or the savers' DMs)
    failed: int = 0  # could not be delivered (channel gone, DM refused)
    retry: int = 0  # Slack said no this time: a later run tries again
    errors: list[str] = field(default_factory=list)

    def add(self, other: NotifyReport | None) -> None:
        """Count `other`'s notices in this report too (a cycle's Hub and arXiv fetches)."""
        if other is None:
            return
        self.follow_notices += other.follow_notices
        self.revision_notices += other.revision_notices
        self.failed += other.failed
        self.retry += other.retry
        self.errors += other.errors

    @property
    def quiet(self) -> bool:
        """Nothing to tell: no notice sent, failed, left over or stopped (reports then
        print no notices line)."""
        return not (self.follow_notices or self.revision_notices or self.failed
                    or self.retry or self.errors)

    def render(self) -> str:
        """'notices: 2 for follows and alerts, 1 new version' (the parts that are not 0)."""
        parts = []
        if self.follow_notices:
            parts.append(f"{self.follow_notices} for follows and alerts")
        if self.revision_notices:
            n = self.revision_notices
            parts.append(f"{n} new version{'s' if n != 1 else ''}")
        if self.failed:
            parts.append(f"{self.failed} undeliverable")
        if self.retry:
            parts.append(f"{self.retry} left for the next run")
        if self.errors:  # the database or the token: the log says which
            parts.append("stopped early, the rest wait for the next run")
        return "notices: " + (", ".join(parts) or "none")


@dataclass(frozen=True)
class _Hit:
    follow: repo.FollowRow
    reason: str


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def reason(follow: repo.FollowRow, author: str | None = None) -> str:
    """Why a follower gets a paper, as plain text."""
    if follow.kind == repo.AUTHOR:
        who = "this channel follows" if follow.scope == repo.CHANNEL else "you follow"
        return f"New paper by {author or follow.text} ({who} {follow.text})"
    whose = "this channel's" if follow.scope == repo.CHANNEL else "your"
    return f"Matches {whose} alert “{follow.text}”"


def is_recent(paper: Paper) -> bool:
    """Whether the paper came out (published or announced) within NEW_WITHIN_DAYS of being
    stored, or has no date: an import or backfill of old papers is not news."""
    dates = [d for d in (paper.published, paper.announced) if d is not None]
    if not dates:
        return True
    return max(dates) >= _aware(paper.first_seen).date() - timedelta(days=NEW_WITHIN_DAYS)


def hits_for(paper: Paper, follows: Iterable[repo.FollowRow]) -> list[_Hit]:
    """The follows this paper is new to and matches, with why."""
    first_seen = _aware(paper.first_seen)
    if not is_recent(paper):
        return []
    text_stems: list[str] | None = None
    out: list[_Hit] = []
    for f in follows:
        if first_seen < f.created_at:
            continue
        if f.kind == repo.AUTHOR:
            author = match.matching_author(f.norm, paper.authors or [])
            if author is not None:
                out.append(_Hit(f, reason(f, author)))
        elif f.kind == repo.ALERT:
            if text_stems is None:
                text_stems = match.stems(f"{paper.title} . {paper.abstract or ''}")
            if match.phrase_in(f.norm, text_stems):
                out.append(_Hit(f, reason(f)))
    return out


def notify_new_papers(services: Services, poster: Any, paper_ids: Iterable[int]) -> NotifyReport:
    """Post what is new to follows, alerts and libraries among `paper_ids` (and papers
    changed since the last run). Never raises for the caller: a database or Slack outage
    is logged and the notices wait for the next run."""
    report = NotifyReport()
    try:
        _notify(services, poster, list(paper_ids), report)
    except (SQLAlchemyError, WorkspaceGone) as exc:
        log.error("follow and revision notices stopped: %s", type(exc).__name__
                  if isinstance(exc, SQLAlchemyError) else exc)
        report.errors.append(str(exc)[:200])
    if report.follow_notices or report.revision_notices or report.failed:
        log.info("%s", report.render())
    return report


def _notify(services: Services, poster: Any, paper_ids: list[int], report: NotifyReport) -> None:
    db = services.db
    with db.session() as s:
        top = repo.max_rev(s)
        mark = repo.watermark(s)
        ids = set(paper_ids)
        if mark is not None and top > mark:
            ids.update(repo.ids_changed_after(s, mark, top))
        follows = repo.all_follows(s)
        revisions = repo.revisions(s, sorted(ids)) if ids else []
        wanted = ids if follows else {r.paper_id for r in revisions}
        by_id = {p.id: p for p in repo.papers(s, wanted)} if wanted else {}

    by_team: dict[str, list[repo.FollowRow]] = defaultdict(list)
    for f in follows:
        by_team[f.team_id].append(f)
    # (team, scope, owner, paper) -> hits: one message per follower and paper.
    grouped: dict[tuple[str, str, str, int], list[_Hit]] = defaultdict(list)
    for pid in sorted(ids):
        paper = by_id.get(pid)
        if paper is None:
            continue
        for team_follows in by_team.values():
            for hit in hits_for(paper, team_follows):
                f = hit.follow
                grouped[(f.team_id, f.scope, f.owner, pid)].append(hit)

    for (team_id, scope, owner, pid), hits in grouped.items():
        _deliver_follow(services, poster, team_id, scope, owner, by_id[pid], hits, report)
    for rev in revisions:
        if rev.paper_id in by_id:
            _deliver_revision(services, poster, rev, by_id[rev.paper_id], report)

    if mark is None or top > mark:
        with db.session() as s:
            repo.set_watermark(s, top)


def _deliver_follow(services: Services, poster: Any, team_id: str, scope: str, owner: str,
                    paper: Paper, hits: list[_Hit], report: NotifyReport) -> None:
    with services.db.session() as s:
        mine = [h for h in hits if repo.claim_follow_notice(s, team_id, h.follow.id, paper.id)]
    if not mine:
        return  # announced before (or by a concurrent run)

    def settle(**values: Any) -> None:
        with services.db.session() as s:
            for h in mine:
                if values.get("state") == "release":
                    repo.release_follow_notice(s, h.follow.id, paper.id)
                else:
                    repo.finish_follow_notice(s, h.follow.id, paper.id, **values)

    msg = follow_notice_message(paper, [h.reason for h in mine])
    payload = {"notice": "follow", "paper_id": paper.id}
    posting = False
    try:
        slack = team_poster(poster, team_id)
        channel = owner if scope == repo.CHANNEL else slack.open_dm(owner)
        if channel is None:
            raise SlackTransient(f"no DM with {owner}")
        posting = True
        ts = slack.post(channel, msg["text"], msg["blocks"], payload)
    except WorkspaceGone:
        settle(state="release")
        raise
    except ChannelGone as exc:
        settle(state="failed", channel_id=owner, error=exc.reason)
        report.failed += 1
        log.warning("follow notice for %s not delivered: %s", owner, exc.reason)
        return
    except SlackTransient as exc:
        if posting:  # it may have gone out (a timeout): never risk it twice
            settle(state="failed", channel_id=owner, error=str(exc)[:200])
            report.failed += 1
        else:  # nothing was sent: a later run tries again
            settle(state="release")
            report.retry += 1
        log.warning("follow notice for %s not delivered: %s", owner, exc)
        return
    settle(state="posted", channel_id=channel, ts=ts)
    with services.db.session() as s:
        remember_message(s, team_id, channel, ts, paper.id, "notice")
    report.follow_notices += 1


def _deliver_revision(services: Services, poster: Any, rev: repo.Revision, paper: Paper,
                      report: NotifyReport) -> None:
    with services.db.session() as s:
        if not repo.claim_revision_notice(s, rev.team_id, rev.paper_id, rev.version):
            return
        share = first_share(s, rev.team_id, rev.paper_id)
        users = repo.savers(s, rev.team_id, rev.paper_id)

    def settle(state: str, target: str | None = None, error: str | None = None) -> None:
        with services.db.session() as s:
            if state == "release":
                repo.release_revision_notice(s, rev.team_id, rev.paper_id, rev.version)
            else:
                repo.finish_revision_notice(s, rev.team_id, rev.paper_id, rev.version,
                                            state=state, target=target, error=error)

    payload = {"notice": "revision", "paper_id": paper.id, "version": rev.version}
    try:
        slack = team_poster(poster, rev.team_id)
        if share is not None:
            msg = revision_notice_message(paper, rev.version, saved=False)
            try:
                ts = slack.post(share.channel_id, msg["text"], msg["blocks"], payload,
                                thread_ts=share.ts)
            except ChannelGone as exc:  # archived, or the bot is not in it: DM the savers
                log.info("revision notice: the thread in %s is out of reach (%s)",
                         share.channel_id, exc.reason)
            else:
                settle("posted", f"{share.channel_id} {share.ts}")
                with services.db.session() as s:
                    remember_message(s, rev.team_id, share.channel_id, ts, paper.id, "notice")
                report.revision_notices += 1
                return
        told = _dm_savers(slack, users, paper, rev, payload)
    except WorkspaceGone:
        settle("release")
        raise
    except (ChannelGone, SlackTransient) as exc:  # the token, or the thread post timed out
        settle("failed", error=str(exc)[:200])
        report.failed += 1
        log.warning("revision notice not delivered: %s", exc)
        return
    if told:
        settle("posted", " ".join(told))
        report.revision_notices += 1
    elif users:
        settle("release")
        report.retry += 1
    else:
        settle("failed", error="not shared in a reachable channel and saved by nobody")
        report.failed += 1


def _dm_savers(slack: Any, users: list[str], paper: Paper, rev: repo.Revision,
               payload: dict[str, Any]) -> list[str]:
    """DM each saver; the users who got it (a refused DM is skipped, not retried)."""
    msg = revision_notice_message(paper, rev.version, saved=True)
    told: list[str] = []
    for user in users:
        dm = slack.open_dm(user)
        if dm is None:
            continue
        try:
            slack.post(dm, msg["text"], msg["blocks"], payload)
        except (ChannelGone, SlackTransient) as exc:
            log.warning("revision notice to %s not delivered: %s", user, exc)
            continue
        told.append(user)
    return told


def notify_stored(services: Services, paper_ids: Iterable[int]) -> NotifyReport | None:
    """`paperbot fetch-arxiv` / `backfill-arxiv`: notices with the digest's Slack
    credentials (SLACK_BOT_TOKEN, or each workspace's install in OAuth mode); None, with
    one log line, when there are none (fetching alone needs no Slack)."""
    from bot.config import ConfigError
    from bot.digest.poster import poster_for

    try:
        poster = poster_for(services.config, services.db)
    except ConfigError:
        log.info("no Slack credentials: follow and revision notices wait for the digest")
        return None
    return notify_new_papers(services, poster, paper_ids)
