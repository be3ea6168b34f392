"""The `paperbot` command: search, import, export, serve, digest.

Each subcommand is a thin shell over plain functions; errors a user can fix are printed
as one clear line (exit status 2 for bad input, 1 for an unusable environment).

Start-up time matters for a command line tool: this module imports only the standard
library at the top, and each command imports what it needs (SQLAlchemy, numpy, Slack, Alembic
only when the database is behind) once the arguments are parsed, so `paperbot --help` and
argument errors are instant and `paperbot search` loads no Slack or Alembic code. A search
on a current SQLite database with a current saved index loads no SQLAlchemy either: it
answers read-only through sqlite3 (bot.services.open_search_only), with the same output.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.search.limits import MAX_LIMIT

if TYPE_CHECKING:
    from bot.config import Config
    from bot.services import SearchOnly, Services
    from storage.models import Paper
    from storage.search_reads import Listing

log = logging.getLogger("paperbot")


class UsageError(Exception):
    """Bad input on the command line; printed without a traceback (exit 2)."""


def paper_public_id(paper: Paper | Listing) -> str:
    """A stable id for scripts (JSON only): the arXiv id, else the internal title key."""
    return paper.arxiv_id or paper.key


def _no_results_message(
    services: Services | SearchOnly, query: str, args: argparse.Namespace
) -> str:
    """Why nothing was found: the words, or the --since/--until/--source filter that
    excluded every paper the words match (so the user changes the right thing)."""
    from bot.search.engine import QueryError

    generic = f"No papers match {query!r}. Try fewer or different words."
    if not services.search.size:
        return (
            "The library is empty: add papers with `paperbot import FILE` (listing, HF or "
            "arXiv JSON/JSONL), or set PAPERBOT_SEED=1 to load the bundled sample."
        )
    filters = {"since": args.since, "until": args.until, "source": args.source}
    if not any(v is not None for v in filters.values()):
        return generic
    if args.source is not None:
        sources = services.sources()
        if args.source not in sources:
            here = ", ".join(sources) or "none: the database has no papers"
            return f"No papers from source {args.source!r} (sources here: {here})."
    try:
        unfiltered = services.search.search(query, limit=1)
    except QueryError:
        return generic
    if not unfiltered.total:
        return generic
    described = {
        "since": f"published since {args.since}",
        "until": f"published until {args.until}",
        "source": f"from source {args.source!r}",
    }
    active = [name for name, value in filters.items() if value is not None]
    # Name the filters that each exclude everything on their own; if none does, it is
    # their combination.
    alone = [
        name for name in active
        if not services.search.search(query, limit=1, **{name: filters[name]}).total
    ] or active
    what = f"No papers match {query!r} {' and '.join(described[n] for n in alone)}"
    undated, dated = _undated_matches(services, query, args) if (
        "since" in alone or "until" in alone) else (0, 0)
    flags = "/".join(f"--{n}" for n in ("since", "until") if n in alone)
    if undated and not dated:
        one = undated == 1
        them = "it" if one else "them"
        sample = (" (the bundled sample corpus has titles and abstracts only)"
                  if "sample" in services.sources() else "")
        return (
            f"{what}: the {undated} paper{'' if one else 's'} that match{'es' if one else ''} "
            f"{'has' if one else 'have'} no publication date, so {flags} cannot place {them}"
            f"{sample}. Leave out {flags} to see {them}."
        )
    note = (f"; {undated} of them {'has' if undated == 1 else 'have'} no publication date, "
            f"which {flags} cannot place") if undated else ""
    return (
        f"{what} ({unfiltered.total} match without "
        f"{'that filter' if len(alone) == 1 else 'those filters'}{note})."
    )


def _undated_matches(
    services: Services | SearchOnly, query: str, args: argparse.Namespace
) -> tuple[int, int]:
    """(undated, dated) papers matching the words (and --source): a date filter drops every
    undated paper (listings and the sample corpus have no dates), which deserves a word."""
    search = services.search.search
    total = search(query, limit=1, source=args.source).total
    dated = search(query, limit=1, since=date.min, source=args.source).total  # undated drop out
    return total - dated, dated


def cmd_search(services: Services | SearchOnly, args: argparse.Namespace) -> int:
    """Rank and print; the same through Services and through the read-only SearchOnly."""
    import json
    from dataclasses import asdict

    from bot.search.engine import QueryError

    query = " ".join(args.query)
    try:
        found = services.find(
            query,
            limit=args.limit,
            since=args.since,
            until=args.until,
            source=args.source,
            explain=args.explain,
        )
    except QueryError as exc:
        raise UsageError(str(exc)) from None
    why = {
        e.paper_id: {
            "bm25_rank": e.first_stage_rank,
            "bm25_score": round(e.bm25, 6),
            **{k: round(v, 4) for k, v in asdict(e.features).items()},
        }
        for e in found.page.explained
    }
    if args.json:
        rows = [
            {
                "rank": rank,
                "id": paper_public_id(p),
                "title": p.title,
                "score": round(score, 6),
                "url": p.link,
                "link": p.link,
                "pdf_url": p.pdf_url,
                "authors": p.authors,
                "published": p.published.isoformat() if p.published else None,
                "upvotes": p.upvotes,
                "source": p.source,
                **({"explain": why[p.id]} if p.id in why else {}),
            }
            for rank, (p, score) in enumerate(found.papers, 1)
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not found.papers:
        print(_no_results_message(services, query, args))
        return 0
    if args.explain and found.page.expanded:
        print("acronyms: " + "; ".join(found.page.expanded))
    for rank, (p, score) in enumerate(found.papers, 1):
        when = p.published.isoformat() if p.published else "—"
        print(f"{rank:>3}  {score:7.3f}  {p.title}")
        print(f"     {when}  {p.link}")
        if p.id in why:
            w = why[p.id]
            print(
                f"     why: BM25 rank {w['bm25_rank']} (score {w['bm25_score']:.2f}); "
                f"vs the best candidate {w['bm25']:.0%}; mentions {w['coverage']:.0%} of the "
                f"query, {w['title']:.0%} in the title; {w['proximity']:.0%} of neighbouring "
                "query words together"
            )
    shown = len(found.papers)
    if found.page.total > shown:
        print(f"({shown} of {found.page.total} matching papers; use --limit for more)")
    return 0


def cmd_import(services: Services, args: argparse.Namespace) -> int:
    from bot.importers.run import ImportFailed, import_paths

    try:
        report = import_paths(
            services.db, [Path(p) for p in args.paths], fmt=args.format, skip_bad=args.skip_bad,
            prebuild_index=True,
        )
    except ImportFailed as exc:
        raise UsageError(f"{exc}\nNothing was imported.") from None
    except KeyboardInterrupt:
        print(
            "paperbot: import interrupted; batches already committed are kept. Rerun the same "
            "command to finish (papers already stored are skipped as unchanged).",
            file=sys.stderr,
        )
        return 130
    print(report.render())
    total = report.total
    # Leave a saved search index that is current with the database, so the next search
    # starts warm; also after an import that changed nothing, since an earlier run may have
    # been killed while building the index (a current saved index is not even loaded).
    try:
        services.search.ensure_saved(prebuilt=report.prebuilt)
    except OSError as exc:
        # The papers are committed; only the index (derived data) is missing. Say so, or a
        # traceback here reads as a failed import and invites a rerun that changes nothing.
        print(
            f"paperbot: the papers ARE imported, but the search index could not be saved in "
            f"{services.config.index_dir} ({exc.strerror or exc}). Free space there (or fix "
            "PAPERBOT_INDEX_DIR); the next `paperbot search` or `paperbot serve` rebuilds it.",
            file=sys.stderr,
        )
        return 1
    if args.skip_bad and report.bad_total and not (total.added or total.updated or total.unchanged):
        print("paperbot: no good records found in the input", file=sys.stderr)
        return 2
    return 0


def cmd_serve(services: Services, args: argparse.Namespace) -> int:
    from bot.server import serve

    serve(services)
    return 0


def cmd_digest(services: Services, args: argparse.Namespace) -> int:
    from bot.digest.once import run_once
    from bot.digest.poster import poster_for
    from bot.digest.scheduler import run_blocking

    # Arguments and credentials were checked before the database was opened
    # (_digest_preflight); OAuth mode: each workspace's token from the database.
    poster = poster_for(services.config, services.db)
    if not args.once:
        run_blocking(services, poster)
        return 0
    outcome = run_once(services, poster, post_now=args.now)
    print("\n".join(outcome.lines))
    if outcome.problem:
        print(f"paperbot: {outcome.problem}", file=sys.stderr)
        return 1
    return 0


def _digest_preflight(config: Config, args: argparse.Namespace) -> None:
    """`paperbot digest` mistakes that need no database, found before one is created,
    migrated or seeded: --now without --once, no Slack credentials (a ConfigError)."""
    from bot.digest.poster import check_credentials

    if args.now and not args.once:
        raise UsageError("--now goes with --once: `paperbot digest --once --now`")
    check_credentials(config)


def cmd_export(services: Services, args: argparse.Namespace) -> int:
    """The stored papers (or the matches for words, best first) as BibTeX or JSON lines.
    The CLI belongs to no Slack workspace: it exports every paper, not a team library."""
    from bot.search.engine import QueryError
    from bot.team_library import export_papers, render

    words = " ".join(args.words)
    try:
        papers = export_papers(services, None, words)
    except QueryError as exc:
        raise UsageError(str(exc)) from None
    text = render(papers, args.format)
    n = len(papers)
    if args.output is None:
        sys.stdout.write(text)
    else:
        out = Path(args.output)
        tmp = out.with_name(out.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(out)  # a reader never sees half a file
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    where = f" to {args.output}" if args.output else ""
    about = f" matching “{words}”" if words else ""
    print(f"exported {n} paper{'s' if n != 1 else ''}{about}{where} ({args.format})",
          file=sys.stderr)
    return 0


def _arxiv_done(services: Services, line: str) -> int:
    """Print the report; leave a saved search index current with what was stored."""
    print(line)
    try:
        services.search.ensure_saved()
    except OSError as exc:
        print(
            f"paperbot: the papers ARE stored, but the search index could not be saved in "
            f"{services.config.index_dir} ({exc.strerror or exc}); the next `paperbot search` "
            "or `paperbot serve` rebuilds it.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_fetch_arxiv(services: Services, args: argparse.Namespace) -> int:
    """The day's arXiv announcements in the categories asked (--category, else
    PAPERBOT_ARXIV_CATEGORIES), stored and searchable."""
    from bot.sources.http import SourceError
    from bot.sources.run import fetch_arxiv

    categories = tuple(dict.fromkeys(args.category or services.config.arxiv_categories))
    if not categories:
        print(
            "No arXiv categories to fetch: pass --category cs.CL (repeatable) or set "
            "PAPERBOT_ARXIV_CATEGORIES=cs.CL,cs.LG. Nothing fetched."
        )
        return 0
    try:
        report = fetch_arxiv(services, categories)
    except SourceError as exc:
        print(f"paperbot: {exc}. Nothing was stored.", file=sys.stderr)
        return 1
    return _arxiv_done(services, report.render())


def cmd_backfill_arxiv(services: Services, args: argparse.Namespace) -> int:
    """A category's papers over a window, through arXiv's OAI-PMH interface."""
    from bot.sources.http import SourceError
    from bot.sources.run import backfill_arxiv

    if args.until is not None and args.until < args.since:
        raise UsageError(f"--until {args.until} is before --from {args.since}")
    try:
        report = backfill_arxiv(services, args.category, args.since, args.until)
    except SourceError as exc:
        print(f"paperbot: {exc}. Pages before the failure are stored; rerun the same "
              "command to finish.", file=sys.stderr)
        import contextlib

        with contextlib.suppress(OSError):  # else the next search or serve rebuilds it
            services.search.ensure_saved()  # the pages stored so far are searchable
        return 1
    return _arxiv_done(services, report.render())


def cmd_migrate(services: Services, args: argparse.Namespace) -> int:
    print(f"database at {services.db.safe_url} is up to date")
    return 0


def _limit(value: str) -> int:
    """--limit, checked by the search subparser so its error names `paperbot search`."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}, got {value!r}")
    return n


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _category(value: str) -> str:
    """An arXiv category such as cs.CL or hep-th (checked before any database is opened)."""
    from bot.sources.taxonomy import UnknownCategory, category

    try:
        return category(value)
    except UnknownCategory as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. cs.CL, hep-th)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperbot", description="PaperBot: search and follow research papers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "search", help="rank the stored papers against a query (BM25, then a second stage)"
    )
    p.add_argument("query", nargs="+", help="words to search for")
    p.add_argument(
        "--limit", type=_limit, default=10, help=f"how many results, 1-{MAX_LIMIT} (default 10)"
    )
    p.add_argument("--since", type=_date, help="only papers published on or after YYYY-MM-DD")
    p.add_argument("--until", type=_date, help="only papers published on or before YYYY-MM-DD")
    p.add_argument("--source", help="only papers from this source (sample, hf, arxiv, listing)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument(
        "--explain", action="store_true",
        help="show why each paper ranked where it did (BM25 rank, coverage, title, word order)",
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "import", help="import papers from listing, HF JSON(L), arXiv JSONL or "
        "`paperbot export --format jsonl` files",
    )
    p.add_argument("paths", nargs="+", help="files to import")
    p.add_argument(
        "--format", choices=["auto", "listing", "hf", "arxiv", "paperbot"], default="auto",
        help="input format (default: detect)",
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="import the good records, list the bad lines"
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("serve", help="run the Slack app (HTTP on $PORT, or Socket Mode)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("digest", help="fetch trending papers and post due digests")
    p.add_argument(
        "--once", action="store_true",
        help="run one cycle now (digests whose time has come), say when each is next due, exit",
    )
    p.add_argument(
        "--now", action="store_true",
        help="with --once: post today's digest now to every subscription that hasn't had it",
    )
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser(
        "export", help="export the stored papers (or a search's matches) as BibTeX or JSONL",
        description="Export every stored paper, or the papers matching WORDS (best first). "
        "The command line belongs to no Slack workspace, so this is the whole paper library, "
        "not a team's; `/papers export` in Slack exports a workspace's team library.",
    )
    p.add_argument("words", nargs="*", help="only the papers matching these words")
    p.add_argument("--format", choices=["bibtex", "jsonl"], default="bibtex",
                   help="output format (default bibtex)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "fetch-arxiv", help="store the day's arXiv announcements in some categories (RSS)"
    )
    p.add_argument(
        "--category", action="append", type=_category, metavar="CAT",
        help="an arXiv category, e.g. cs.CL (repeatable; default PAPERBOT_ARXIV_CATEGORIES)",
    )
    p.set_defaults(func=cmd_fetch_arxiv)

    p = sub.add_parser(
        "backfill-arxiv", help="store a category's papers over a window (arXiv OAI-PMH)"
    )
    p.add_argument("--category", required=True, type=_category, metavar="CAT",
                   help="an arXiv category, e.g. cs.CL")
    p.add_argument("--from", dest="since", required=True, type=_date, metavar="YYYY-MM-DD",
                   help="first day of the window (records changed since)")
    p.add_argument("--until", type=_date, metavar="YYYY-MM-DD",
                   help="last day of the window (default: today)")
    p.set_defaults(func=cmd_backfill_arxiv)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)
    return parser


def _search_read_only(config: Config, args: argparse.Namespace, seed: bool) -> int | None:
    """`paperbot search` through bot.services.open_search_only (no SQLAlchemy), or None when
    that cannot answer and Services must. The output is held until the search succeeded, so
    falling back after a late failure cannot print anything twice."""
    import io
    from contextlib import redirect_stdout

    from bot.services import SearchOnly, open_search_only

    services = open_search_only(config, seed=seed)
    if services is None:
        return None
    log.debug("searching read-only through sqlite3")
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            status = cmd_search(services, args)
    except SearchOnly.UNAVAILABLE as exc:
        log.debug("read-only search not possible: %s: %s", type(exc).__name__, exc)
        return None
    finally:
        services.close()
    sys.stdout.write(out.getvalue())
    return status


def _save_caught_up(services: Services) -> None:
    """After answering: save an index this search had to catch up (another process added
    papers; a server saves only every few hundred), so the next search is read-only again."""
    try:
        if services.search.unsaved:
            services.search.save()
    except OSError as exc:
        log.debug("could not save the caught-up search index: %s", exc)


def _database_problem(exc: Exception, services: Services | None) -> str | None:
    """The one line for a database failure (storage.db's DatabaseError, SQLAlchemy's
    OperationalError), or None for any other exception. Imports nothing new: neither can
    have been raised unless storage.db (and with it SQLAlchemy) was imported."""
    db = sys.modules.get("storage.db")
    if db is None:
        return None
    if isinstance(exc, db.DatabaseError):
        return str(exc)
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OperationalError):
        where = services.db.safe_url if services else "the database"
        return f"database error at {where}: {db.explain(exc)}."
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Imported after parsing: --help and usage errors need none of this (see module doc).
    from bot.config import Config, ConfigError
    from bot.logging_setup import setup_logging

    services: Services | None = None
    try:
        config = Config.from_env()
        quiet = (args.command in ("search", "import", "migrate", "export")
                 and "LOG_LEVEL" not in os.environ)
        setup_logging(
            "WARNING" if quiet else config.log_level,
            interactive=quiet,
            secrets=(config.slack_bot_token, config.slack_signing_secret, config.slack_app_token,
                     config.slack_client_secret),
        )
        if args.command == "serve":  # fail fast, before touching the database
            from bot.server import check_credentials

            check_credentials(config)
        if args.command == "digest":
            _digest_preflight(config, args)
        # A new user's first search or serve finds the sample corpus (embedded database
        # only, unless PAPERBOT_SEED says otherwise); imports start clean.
        seed = args.command in ("search", "serve", "digest") and config.seed_sample_corpus
        if args.command == "search":
            status = _search_read_only(config, args, seed)
            if status is not None:
                sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
                return status
        from bot.services import Services

        services = Services.create(config, seed=seed)
        status = args.func(services, args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
        if args.command == "search":
            _save_caught_up(services)
        return status
    except BrokenPipeError:
        # The reader went away (`paperbot search --json x | head`): the Python docs' recipe,
        # point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except UsageError as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"paperbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paperbot: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        problem = _database_problem(exc, services)
        if problem is None:
            raise
        print(f"paperbot: {problem}", file=sys.stderr)
        return 1
    finally:
        if services is not None:
            services.close()


if __name__ == "__main__":
    sys.exit(main())
