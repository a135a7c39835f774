"""The `moderation` command: a thin shell over the library; each command calls one public function."""

from __future__ import annotations

import os

import click

from moderation import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moderation")
def main() -> None:
    """Moderate news-site reader comments offline: parse pages, score comments, retrain, serve."""


def input_options(command):
    """Options every command that reads comment rows shares."""
    for option in reversed([
        click.option("--text-column", help="Column holding the comment text (default: text, comment, body, …)."),
        click.option("--id-column", help="Column holding the row id (default: id, comment_id, …; else row number)."),
        click.option("--encoding", help="Encoding of the input files (default: UTF-8, or UTF-16 by its byte-order "
                                        "mark; pages also by <meta charset> or detection)."),
    ]):
        command = option(command)
    return command


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", help="Output file, .csv, .tsv, .jsonl or .json, optionally .gz (default: stdout).")
@click.option("--format", "stdout_format", type=click.Choice(["jsonl", "csv", "tsv", "json"]), default="jsonl",
              show_default=True, help="Format on stdout (a file's format follows its suffix).")
@input_options
@click.option("--reasons", type=click.Choice(["flagged", "all", "none"]), default="flagged", show_default=True,
              help="For which comments to list the words that drove the score.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A site policy file (TOML) overriding thresholds or switching categories off.")
@click.option("--review", type=click.FloatRange(0, 1), help="Review threshold for p_abusive for this run.")
@click.option("--reject", type=click.FloatRange(0, 1), help="Reject threshold for p_abusive for this run.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="Abuse model file (default: shipped).")
@click.option("--model-version", help="Score with this model version (any promoted one: registry.json in the model "
                                       "home lists them) or model file.")
@click.option("--article-column", default="article", show_default=True,
              help="Column holding each comment's article, for the off-topic model.")
@click.option("--articles", type=click.Path(exists=True, dir_okay=False),
              help="Articles file (CSV or JSON Lines) joined to the comments by --article-id.")
@click.option("--article-id", help="Column naming each comment's article, in both files.")
@click.option("--jobs", type=click.IntRange(1), default=min(2, os.cpu_count() or 1), show_default="2 or the cores",
              help="Worker processes scoring chunks in parallel.")
@click.option("--cluster", metavar="ADDRESS|local[:N]",
              help="Score on a Dask cluster: a scheduler address, or local[:N] for N worker processes on this machine. "
                   "Inputs: CSV, JSON Lines or Parquet files, globs, directories; -o out/ writes Parquet parts. "
                   "Needs moderation[dask].")
@click.option("--keep-order", is_flag=True, help="With --cluster, write one output file in input order.")
def score(inputs, output, stdout_format, text_column, id_column, encoding, reasons, policy_file, review, reject, model,
          article_column, articles, article_id, jobs, model_version, cluster, keep_order):
    """Score comments: decisions, probabilities and reasons, one output row per input row.

    INPUTS are CSV/TSV, JSON Lines, JSON arrays, Parquet or article pages (each page's comments are scored),
    gzipped or not; '-' reads stdin. Exit code 1 when any row could not be scored (its error row says why).
    """
    import sys

    _exit_on_sigterm()

    from moderation.artifacts import ArtifactError
    from moderation.policy import PolicyError
    from moderation.rows import InputError
    from moderation.scoring import load, score_files

    if articles and not article_id:
        raise click.UsageError("--articles needs --article-id to join comments to their articles")
    if articles and cluster:
        raise click.UsageError("--articles does not work with --cluster: add the article text as a column")
    try:
        moderator = load(model, version=model_version)
        policy = moderator.policy.with_file(policy_file) if policy_file else moderator.policy
        if review is not None or reject is not None:
            policy = policy.with_thresholds("abusive", review, reject)
        if cluster:
            from moderation.distributed import Models, score_on_cluster

            counts = score_on_cluster(cluster, list(inputs), output, Models(model, version=model_version),
                                      text_column=text_column, id_column=id_column, encoding=encoding,
                                      reasons=reasons, policy=policy, article_column=article_column,
                                      stdout_format=stdout_format, keep_order=keep_order,
                                      progress=sys.stderr.isatty())
        else:
            counts = score_files(moderator, list(inputs), output, text_column=text_column, id_column=id_column,
                                 encoding=encoding, reasons=reasons, policy=policy, article_column=article_column,
                                 articles=articles, article_id=article_id, progress=sys.stderr.isatty(),
                                 stdout_format=stdout_format, jobs=jobs)
    except (InputError, PolicyError, ArtifactError, OSError) as exc:  # OSError: the disk filled up, say
        raise click.ClickException(str(exc)) from exc
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()), err=True)
    sys.exit(1 if counts["errors"] else 0)


def _exit_on_sigterm() -> None:
    """SIGTERM (``timeout``, ``kill``, a scheduler) ends the run like Ctrl-C: temporary files are removed."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@main.command()
@click.argument("pages", nargs=-1, required=True)
@click.option("-o", "--output", help="Output file, .jsonl, .json, .csv or .tsv, optionally .gz (default: stdout).")
@click.option("--flat", is_flag=True, help="One row per comment, carrying page and title, instead of one per page.")
@click.option("--encoding", help="Encoding of the pages (default: UTF-8, else <meta charset>, else detected).")
def parse(pages, output, flat, encoding):
    """Parse article pages (text or HTML) into title, date, body and reader comments, as JSON Lines.

    PAGES are files; '-' reads one page from stdin. An unreadable page (missing, binary, undecodable) is named
    on stderr and the exit code is 1, but every other page is still written.
    """
    import sys
    from pathlib import Path

    from moderation.pages import page_rows, parse_page
    from moderation.rows import InputError, RowWriter, atomic_output, check_output, open_input, read_page

    _exit_on_sigterm()
    try:
        fmt = check_output(output, pages)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    failed = False
    try:
        with atomic_output(output, newline="" if fmt in ("csv", "tsv") else None) as handle:
            writer = RowWriter(handle, fmt)
            for path in pages:
                try:
                    text = read_page(open_input(path, encoding=encoding, kind="page"))
                except InputError as exc:
                    click.echo(f"Error: {exc}", err=True)
                    failed = True
                    continue
                writer.write_all(page_rows("-" if path == "-" else Path(path).name, parse_page(text), flat))
            writer.close()
    except OSError as exc:  # the disk filled up, say
        raise click.ClickException(f"{output}: cannot write: {exc.strerror or exc}") from exc
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A site policy file (TOML) for the Coral phase's and /v1/score's decisions.")
@click.option("--api-keys", "api_keys_file", type=click.Path(exists=True, dir_okay=False),
              help="File of API keys, one a line (added to $MODERATION_API_KEYS).")
@click.option("--labeled", "labeled_dir", default="labeled", show_default=True,
              help="Folder for moderators' verdicts from comments:suggestscore.")
@click.option("--log-text", is_flag=True, help="Log comment texts (never logged otherwise).")
@click.option("--max-body-bytes", default=1_000_000, show_default=True, type=click.IntRange(1),
              help="Largest request body accepted (413 above).")
@click.option("--max-text-chars", default=20_000, show_default=True, type=click.IntRange(1),
              help="Longest comment accepted by analyze (400 above); the Coral phase judges head and tail and holds.")
@click.option("--other-languages", type=click.Choice(["refuse", "english-model"]), default="refuse",
              show_default=True, help="Requests in a language other than English: refuse (400) or score them "
                                      "with the English model.")
@click.option("--coral-deadline-ms", default=150, show_default=True, type=click.IntRange(10),
              help="Answer the Coral phase by then, holding a comment not yet judged; keep it under the "
                   "phase's timeout in Coral.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate chain (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
def serve(**options):
    """Serve the models over HTTP: Perspective API (comments:analyze, comments:suggestscore), Coral's external
    moderation phase (/coral/external-moderation), /v1/score, /healthz and /metrics.

    Without API keys it listens on loopback only. The Coral endpoint needs $MODERATION_CORAL_SECRET; production
    Coral needs https (--certfile/--keyfile, or a reverse proxy).
    """
    from moderation.service import ServeConfig, ServeError, run

    try:
        run(ServeConfig(**options))
    except ServeError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--labeled", "labeled_dir", default="labeled", show_default=True,
              help="Folder of the verdicts file, review.jsonl (the label format of labeled/README.md).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A site policy file (TOML) deciding which comments are held (scored files are re-decided).")
@click.option("--api-keys", "api_keys_file", type=click.Path(exists=True, dir_okay=False),
              help="File of API keys, one a line (added to $MODERATION_API_KEYS); needed to listen beyond loopback.")
@input_options
def review(inputs, **options):
    """Open the review desk: a local web page where moderators clear the queue of held comments with the keyboard;
    each verdict is appended to review.jsonl at once, ready for `moderation train --labels`.

    INPUTS are what `moderation score` writes, or anything it reads (scored first with the current models).
    Without API keys it listens on loopback only.
    """
    from moderation.review import ReviewConfig, ReviewError, run

    try:
        run(ReviewConfig(inputs=list(inputs), **options), echo=lambda line: click.echo(line, err=True))
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--labels", "labels", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="The site's label file (CSV or JSON Lines, see labeled/README.md); repeat for several.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="New model file (default: <model home>/<model>-<UTC time>.joblib; promoted, it is copied into "
                   "the model home: $MODERATION_MODELS or the user data folder).")
@click.option("--corpora", type=click.Path(file_okay=False), envvar="MODERATION_CORPORA", show_envvar=True,
              help="The shared corpora: the folder holding datasets/ (default: shared/ beside the checkout or the "
                   "working directory).")
@click.option("--model", type=click.Choice(["abuse", "offtopic"]), default="abuse", show_default=True,
              help="Which model to retrain (its labels: abusive and the categories, or off_topic).")
@click.option("--quick", is_flag=True,
              help="Small features, 3 folds, a sample of the shared data: seconds to a minute, for trials and CI.")
@click.option("--skip-bad", is_flag=True, help="Leave out bad label rows (each is listed) instead of stopping.")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Share of the training weight the site's labels carry.")
def train(labels, out, model, quick, skip_bad, share, corpora):
    """Retrain on the shared corpora plus the site's labels; promote the new model only if it is not worse.

    25% of the site's labels are held back to compare the new model with the current one. Exit code 3 when the
    new model is kept beside the current one (not promoted), 2 when label files have bad rows.
    """
    import sys

    from moderation.artifacts import ArtifactError
    from moderation.corpora import MissingDataError, use
    from moderation.train import LabelsError, retrain

    try:
        if corpora:
            use(corpora)
        result = retrain(labels, out=out, model=model, quick=quick, skip_bad=skip_bad, share=share)
    except (MissingDataError, ArtifactError) as exc:
        raise click.ClickException(str(exc)) from exc
    except LabelsError as exc:
        click.echo("\n".join(map(str, exc.problems)), err=True)
        click.echo(f"Error: {len(exc.problems)} bad label rows; fix them or pass --skip-bad", err=True)
        sys.exit(2)
    for problem in result.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(result.summary())
    sys.exit(0 if result.promoted else 3)


@main.command()
@click.argument("model", required=False)
@click.option("--labels", "labels", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="Label file(s) to measure on (the format of labeled/README.md).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object keyed by label instead of tables.")
def evaluate(model, labels, as_json):
    """Measure a model on labeled comments: ROC/PR AUC, precision/recall at its thresholds, where decisions send
    comments, calibration, per source and per label file.

    MODEL is a model file or version (default: the current models). Bad label rows are listed and left out.
    """
    import json

    from moderation.artifacts import ArtifactError
    from moderation.evaluate import evaluate_model, format_report

    try:
        report, problems = evaluate_model(list(labels), model)
    except ArtifactError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in problems:
        click.echo(f"left out {problem}", err=True)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@main.command()
@click.argument("model", type=click.Choice(["abuse", "offtopic"]), default="abuse")
@click.option("--to", "version", help="Version (or file) to make current (default: the one promoted before).")
def rollback(model, version):
    """Make an earlier promoted model current again (registry.json in the model home keeps every promoted one)."""
    from moderation.registry import RegistryError, rollback

    try:
        entry = rollback(model, to=version)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{model}: current model is now {entry.version} ({entry.file})")


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-n", "count", type=click.IntRange(1), default=200, show_default=True, help="How many comments to pick.")
@click.option("--strategy", type=click.Choice(["uncertain", "disagreement", "random"]), default="uncertain",
              show_default=True, help="How to pick them (see moderation/sampling.py).")
@click.option("-o", "--output", required=True, help="The to-label file, .csv or .jsonl.")
@click.option("--seed", default=0, show_default=True, help="Seed for random picks and tie-breaks.")
def sample(inputs, count, strategy, output, seed):
    """Pick the comments whose labels would teach the model most, into a file for moderators to label.

    The label columns are there and empty; the model's current probabilities are there for reference.
    """
    from moderation.rows import InputError, RowWriter, atomic_output, check_output, open_inputs
    from moderation.sampling import read_comments
    from moderation.sampling import sample as pick

    try:
        open_inputs(inputs)
        fmt = check_output(output, inputs)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    frame, errors = read_comments(list(inputs))
    for error in errors:
        click.echo(f"left out {error}", err=True)
    picked = pick(frame, count, strategy, seed=seed)
    with atomic_output(output, newline="" if fmt in ("csv", "tsv") else None) as handle:
        writer = RowWriter(handle, fmt, list(picked.columns))
        writer.write_all(picked.to_dict("records"))
        writer.close()
    click.echo(f"{len(picked)} of {len(frame)} comments picked ({strategy}) -> {output}", err=True)


if __name__ == "__main__":  # python -m moderation.cli
    main()
