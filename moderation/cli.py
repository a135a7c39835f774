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
        click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input files."),
    ]):
        command = option(command)
    return command


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", help="Output file, .csv or .jsonl (default: stdout).")
@click.option("--format", "stdout_format", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="Format on stdout (a file's format follows its suffix).")
@input_options
@click.option("--reasons", type=click.Choice(["flagged", "all", "none"]), default="flagged", show_default=True,
              help="For which comments to list the words that drove the score.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A site policy file (TOML) overriding thresholds or switching categories off.")
@click.option("--review", type=click.FloatRange(0, 1), help="Review threshold for p_abusive for this run.")
@click.option("--reject", type=click.FloatRange(0, 1), help="Reject threshold for p_abusive for this run.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="Abuse model file (default: shipped).")
@click.option("--model-version", help="Score with this model version (any promoted one; see models/registry.json).")
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

    INPUTS are CSV, JSON Lines or article pages (each page's comments are scored); '-' reads stdin.
    Exit code 1 when any row could not be scored (its error row says why).
    """
    import sys

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
    except (InputError, PolicyError, ArtifactError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()), err=True)
    sys.exit(1 if counts["errors"] else 0)


@main.command()
@click.argument("pages", nargs=-1, required=True)
@click.option("-o", "--output", help="Output JSON Lines file (default: stdout).")
@click.option("--flat", is_flag=True, help="One row per comment, carrying page and title, instead of one per page.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the pages.")
def parse(pages, output, flat, encoding):
    """Parse article pages (text or HTML) into title, date, body and reader comments, as JSON Lines.

    PAGES are files; '-' reads one page from stdin. An unreadable page is named on stderr and the exit
    code is 1, but every other page is still written.
    """
    import sys
    from pathlib import Path

    from moderation.pages import page_rows, parse_page
    from moderation.rows import InputError, RowWriter, atomic_output, read_text

    failed = False
    with atomic_output(output) as handle:
        writer = RowWriter(handle, "jsonl")
        for path in pages:
            try:
                text = read_text(path, encoding)
            except InputError as exc:
                click.echo(f"Error: {exc}", err=True)
                failed = True
                continue
            writer.write_all(page_rows("-" if path == "-" else Path(path).name, parse_page(text), flat))
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
              help="Longest comment accepted (400 above).")
def serve(**options):
    """Serve the models over HTTP: Perspective API (comments:analyze, comments:suggestscore), Coral's external
    moderation phase (/coral/external-moderation), /v1/score, /healthz and /metrics.

    Without API keys it listens on loopback only. The Coral endpoint needs $MODERATION_CORAL_SECRET.
    """
    from moderation.serve import ServeConfig, ServeError, run

    try:
        run(ServeConfig(**options))
    except ServeError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--labels", "labels", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="The site's label file (CSV or JSON Lines, see labeled/README.md); repeat for several.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="New model file (default: models/<model>-<UTC time>.joblib).")
@click.option("--model", type=click.Choice(["abuse", "offtopic"]), default="abuse", show_default=True,
              help="Which model to retrain (its labels: abusive and the categories, or off_topic).")
@click.option("--quick", is_flag=True,
              help="Small features, 3 folds, a sample of the shared data: seconds to a minute, for trials and CI.")
@click.option("--skip-bad", is_flag=True, help="Leave out bad label rows (each is listed) instead of stopping.")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Share of the training weight the site's labels carry.")
def train(labels, out, model, quick, skip_bad, share):
    """Retrain on the shared corpora plus the site's labels; promote the new model only if it is not worse.

    25% of the site's labels are held back to compare the new model with the current one. Exit code 3 when the
    new model is kept beside the current one (not promoted), 2 when label files have bad rows.
    """
    import sys

    from moderation.train import LabelsError, retrain

    try:
        result = retrain(labels, out=out, model=model, quick=quick, skip_bad=skip_bad, share=share)
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
    """Make an earlier promoted model current again (models/registry.json keeps every promoted one)."""
    from moderation.registry import RegistryError, rollback
    from moderation.scoring import models_dir

    try:
        entry = rollback(model, models_dir(), version)
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
    from moderation.rows import RowWriter, atomic_output, output_format
    from moderation.sampling import read_comments
    from moderation.sampling import sample as pick

    frame, errors = read_comments(list(inputs))
    for error in errors:
        click.echo(f"left out {error}", err=True)
    picked = pick(frame, count, strategy, seed=seed)
    fmt = output_format(output)
    with atomic_output(output, newline="" if fmt == "csv" else None) as handle:
        RowWriter(handle, fmt, list(picked.columns)).write_all(picked.to_dict("records"))
    click.echo(f"{len(picked)} of {len(frame)} comments picked ({strategy}) -> {output}", err=True)
