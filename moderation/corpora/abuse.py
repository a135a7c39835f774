"""The abuse corpora as one table: ``text``, ``corpus``, and a 0/1 column per category (NaN where the corpus
does not say). Each corpus labels only some categories; a category's head trains only on rows that label it.
"""

from __future__ import annotations

import ast
import gzip
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.corpora import dataset_path
from moderation.lexicon import IDENTITY_WORDS

CATEGORIES = ("abusive", "toxic", "insult", "obscene", "hate", "threat")
# reader comments under news stories: our users' domain
NEWS_CORPORA = ("insults-2012", "c3", "sfu-ctc", "civil-comments")


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus and the files it came from."""

    name: str
    frame: pd.DataFrame
    files: tuple[Path, ...]
    note: str


def _frame(texts, corpus: str, groups=None, **labels) -> pd.DataFrame:
    """``groups``: what a new site would not share with the training rows (article, thread, author), so that
    cross-validation never puts one group on both sides; each row is its own group where a corpus has none."""
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object).astype(str).to_numpy(), "corpus": corpus})
    frame["group"] = (corpus + ":" + pd.Series(np.arange(len(frame)) if groups is None else groups).astype(str)
                      ).to_numpy()
    for name in CATEGORIES:
        value = labels.get(name, np.nan)
        frame[name] = np.asarray(value, dtype=float) if not np.isscalar(value) else float(value)
    return frame


def insults_2012() -> Corpus:
    files = (dataset_path("insults-2012", "train.csv.gz"), dataset_path("insults-2012", "test_with_solutions.csv.gz"))
    data = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    insult = data["Insult"].to_numpy()
    return Corpus("insults-2012", _frame(data["Comment"], "insults-2012", abusive=insult, insult=insult), files,
                  "Kaggle 2012 insults in social commentary: Insult -> insult and abusive")


def davidson() -> Corpus:
    path = dataset_path("davidson", "labeled_data.csv.gz")
    data = pd.read_csv(path)
    votes = data["count"].to_numpy()
    hate = (data["hate_speech"] / votes >= 0.5).to_numpy()
    offensive = (data["offensive_language"] / votes >= 0.5).to_numpy()
    return Corpus("davidson", _frame(data["tweet"], "davidson", abusive=(data["class"] < 2).to_numpy(), hate=hate,
                                     obscene=offensive), (path,),
                  "tweets: class hate/offensive -> abusive; hate votes >= 1/2 -> hate; "
                  "offensive votes >= 1/2 -> obscene")


def _vote_counts(column: pd.Series) -> pd.DataFrame:
    """``name:votes`` lines (C3's characteristics columns) as one column of counts per name."""
    parsed = column.fillna("").str.findall(r"(\w+):(\d+)")
    return pd.DataFrame([{k: int(v) for k, v in pairs} for pairs in parsed]).fillna(0)


def c3() -> Corpus:
    path = dataset_path("offtopic", "c3_constructive_comments", "C3_anonymized.train.csv.gz")
    data = pd.read_csv(path)
    votes = _vote_counts(data["toxicity_characteristics"])
    judges = data["njudgements_toxicity_expt"].clip(lower=1).to_numpy()
    toxic = (data["crowd_toxicity_level"] >= 2).to_numpy()
    attack = votes.get("personal_attack", 0) / judges >= 0.5
    frame = _frame(data["comment_text"], "c3", groups=data["article_id"], abusive=toxic, toxic=toxic,
                   insult=np.asarray(attack))
    return Corpus("c3", frame,
                  (path,), "Globe and Mail comments: mean crowd toxicity >= 2 of 4 -> abusive and toxic; "
                           "personal_attack by at least half the raters -> insult")


_SPAN_TYPES = {"Insult": "insult", "Insu": "insult", "Profane/Obscene": "obscene", "Threat": "threat",
               "Identity based Attack": "hate", "Identity based ": "hate"}


def civil_comments() -> Corpus:
    """Toxic-spans posts (Civil Comments): all were judged toxic; span types give the category labels."""
    files = tuple(dataset_path("abuse", "toxic-spans", f"acl2022_{part}.minus-test.csv.gz")
                  for part in ("comments", "annotations", "spans"))
    comments, annotations, spans = (pd.read_csv(f) for f in files)
    raters = annotations.groupby("comment_id").size()
    spans = spans.assign(category=spans["type"].map(_SPAN_TYPES)).dropna(subset=["category"])
    spans = spans.merge(annotations[["annotation", "comment_id"]], on="annotation")
    marked = spans.drop_duplicates(["annotation", "category"]).groupby(["comment_id", "category"]).size().unstack()
    share = marked.reindex(raters.index).fillna(0).div(raters, axis=0)
    comments = comments.drop_duplicates("comment_id").set_index("comment_id").join(share, how="inner")
    labels = {cat: (comments[cat] >= 0.5).to_numpy() if cat in comments else 0.0
              for cat in ("insult", "obscene", "threat", "hate")}
    frame = _frame(comments["comment_text"], "civil-comments", abusive=1.0, toxic=1.0, **labels)
    return Corpus("civil-comments", frame, files,
                  "toxic-spans posts (all toxic by Civil Comments raters): abusive and toxic = 1; span type "
                  "marked by at least half the raters -> insult / obscene / threat / hate")


def marked_spans() -> tuple[list[str], list[set[int]], Path]:
    """SemEval-2021 toxic-spans training posts, the character offsets at least two of three raters marked toxic,
    and the file (the trial posts stay for evaluation; the test posts are not in the shared data)."""
    path = dataset_path("abuse", "toxic-spans", "tsd_train.csv.gz")
    data = pd.read_csv(path)
    return data["text"].tolist(), [set(ast.literal_eval(spans)) for spans in data["spans"]], path


def ethos() -> Corpus:
    binary_path = dataset_path("abuse", "ethos", "Ethos_Dataset_Binary.csv.gz")
    multi_path = dataset_path("abuse", "ethos", "Ethos_Dataset_Multi_Label.csv.gz")
    binary = pd.read_csv(binary_path, sep=";")
    multi = pd.read_csv(multi_path, sep=";").drop_duplicates("comment").set_index("comment")
    hate = (binary["isHate"] >= 0.5).to_numpy()
    threat = binary["comment"].map(multi["violence"]).ge(0.5).astype(float).where(binary["comment"].isin(multi.index))
    threat = threat.where(hate, 0.0)  # non-hateful comments are not in the multi-label file: not violent either
    return Corpus("ethos", _frame(binary["comment"], "ethos", abusive=hate, hate=hate, threat=threat.to_numpy()),
                  (binary_path, multi_path), "ETHOS: isHate >= 0.5 -> hate and abusive; violence >= 0.5 -> threat")


def stormfront() -> Corpus:
    meta_path = dataset_path("abuse", "stormfront", "annotations_metadata.csv.gz")
    archive = dataset_path("abuse", "stormfront", "all_files.minus-test.tar.gz")
    meta = pd.read_csv(meta_path).set_index("file_id")
    texts = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".txt"):
                texts[Path(member.name).stem] = tar.extractfile(member).read().decode("utf-8", errors="replace")
    meta = meta.loc[meta.index.intersection(list(texts))]
    meta = meta[meta["label"].isin(["hate", "noHate"])]
    hate = (meta["label"] == "hate").to_numpy()
    return Corpus("stormfront", _frame([texts[i] for i in meta.index], "stormfront", groups=meta["user_id"],
                                       abusive=hate, hate=hate),
                  (meta_path, archive), "white-supremacist forum sentences: hate -> hate and abusive")


def sfu_ctc() -> Corpus:
    """More Globe and Mail comments (13 articles), toxicity judged as in C3; grouped by article."""
    path = dataset_path("abuse", "sfu-ctc", "SFU_constructiveness_toxicity.csv.gz")
    data = pd.read_csv(path)
    toxic = (data["is_toxic_popular_answer_1"] >= 2).to_numpy()
    return Corpus("sfu-ctc", _frame(data["comment"], "sfu-ctc", groups=data["globe_url"], abusive=toxic,
                                    toxic=toxic), (path,),
                  "Globe and Mail comments: most popular toxicity answer >= 2 of 4 -> abusive and toxic")


def gab_hate() -> Corpus:
    """Gab posts: assault on human dignity or call for violence is hate; vulgarity alone is abuse, not hate."""
    path = dataset_path("abuse", "gab-hate-corpus", "ghc_train.tsv.gz")
    data = pd.read_csv(path, sep="\t")
    hd, cv, vo = (data[c].to_numpy().astype(bool) for c in ("hd", "cv", "vo"))
    return Corpus("gab", _frame(data["text"], "gab", abusive=hd | cv | vo, hate=hd | cv, threat=cv), (path,),
                  "Gab Hate Corpus (train file only): hd or cv -> hate; cv -> threat; hd, cv or vo -> abusive")


def implicit_hate() -> Corpus:
    """Tweets from extremist timelines: explicit and implicit hate against civil posts on the same topics, for
    the hate and threat heads.

    Stage 2's expert types mark the implicit posts that threaten; explicit hate has no type, so its threat
    label is unknown."""
    stage1_path = dataset_path("abuse", "implicit-hate", "implicit_hate_v1_stg1_posts.tsv.gz")
    stage2_path = dataset_path("abuse", "implicit-hate", "implicit_hate_v1_stg2_posts.tsv.gz")
    data = pd.read_csv(stage1_path, sep="\t")
    types = pd.read_csv(stage2_path, sep="\t").drop_duplicates("post").set_index("post")["implicit_class"]
    hate = (data["class"] != "not_hate").to_numpy()
    implicit_type = data["post"].map(types)
    threat = np.where(data["class"] == "not_hate", 0.0, np.where(
        implicit_type.notna() & (data["class"] == "implicit_hate"), (implicit_type == "threatening"), np.nan))
    return Corpus("implicit-hate", _frame(data["post"], "implicit-hate", hate=hate, threat=threat),
                  (stage1_path, stage2_path),
                  "Latent Hatred stage 1: explicit or implicit hate -> hate; stage-2 type 'threatening' -> threat "
                  "(unknown for explicit hate); abusive unknown: coded hate is the hate head's to judge, and leaving "
                  "it out of the abusive head helped news comments slightly (benchmarks/abuse.py --drop-label)")


def _lines(*parts: str) -> tuple[list[str], Path]:
    path = dataset_path(*parts)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().split("\n")[:-1], path


def _tweeteval(task: str) -> tuple[list[str], np.ndarray, tuple[Path, ...]]:
    """TweetEval's train and validation splits of one task; its test split is a published benchmark, never read."""
    texts, labels, files = [], [], []
    for split in ("train", "val"):
        split_texts, text_path = _lines("abuse", "tweeteval", task, f"{split}_text.txt.gz")
        split_labels, label_path = _lines("abuse", "tweeteval", task, f"{split}_labels.txt.gz")
        texts += [t.strip() for t in split_texts]
        labels += [int(v) for v in split_labels]
        files += [text_path, label_path]
    return texts, np.array(labels, dtype=float), tuple(files)


def tweeteval_offensive() -> Corpus:
    texts, offensive, files = _tweeteval("offensive")
    return Corpus("tweeteval-offensive", _frame(texts, "tweeteval-offensive", abusive=offensive), files,
                  "OLID tweets (TweetEval train + val): offensive -> abusive")


def tweeteval_hate() -> Corpus:
    """HatEval tweets: hate against immigrants or women. Its negatives include insults aimed elsewhere, so they
    say nothing about abuse in general."""
    texts, hate, files = _tweeteval("hate")
    return Corpus("tweeteval-hate", _frame(texts, "tweeteval-hate", abusive=np.where(hate == 1, 1.0, np.nan),
                                           hate=hate), files,
                  "HatEval tweets (TweetEval train + val): hate -> hate and abusive; not hate -> hate 0, abusive "
                  "unknown")


def news_articles(min_chars: int = 60, max_chars: int = 600) -> Corpus:
    """Paragraphs of news articles (Dragnet and Multi-News pages, comment sections left out): civil text that
    names people, places, groups and violent events without attacking anyone, as negatives for every head.

    Without them the heads learn that identity words ("gay", "Muslim") and news topics mean abuse, because
    abusive training comments mention them far more often than the civil ones do.
    """
    dragnet = dataset_path("pages", "dragnet_corrected", "pages.train.jsonl.gz")
    multinews = dataset_path("pages", "multinews_samples", "news_pages.jsonl.gz")
    texts = [page.get("article_gold", page["text"]) for f in (dragnet, multinews) for page in pd.read_json(
        f, lines=True).to_dict("records")]
    paragraphs = list(dict.fromkeys(p.strip() for text in texts for p in text.split("\n")
                                    if min_chars <= len(p.strip()) <= max_chars and "\x00" not in p))
    return Corpus("news-articles", _frame(paragraphs, "news-articles", **dict.fromkeys(CATEGORIES, 0.0)),
                  (dragnet, multinews), "news article paragraphs (no comments): 0 for every category")


# Our own civil sentences naming an identity (not Jigsaw's madlib templates, which stay for evaluation).
CIVIL_TEMPLATES = (
    "I am a {w} woman.", "I am a {w} man.", "As a {w} person, I found this article helpful.",
    "My neighbour is {w} and she agrees with the council.", "Being {w} is part of who I am.",
    "The {w} community organised a fundraiser for the hospital.", "My best friend is {w}.",
    "We welcomed a {w} family to our street last year.", "I am {w} and proud of my town.",
    "Many {w} voters supported the new school budget.", "The article interviews {w} students about tuition.",
    "Our {w} teacher won an award this spring.",
)


def civil_identity() -> Corpus:
    """Civil sentences naming an identity, written here: 0 for every category, so naming a group is not abuse."""
    texts = [t.format(w=w) for w in IDENTITY_WORDS for t in CIVIL_TEMPLATES]
    texts = [t.replace(" a a", " an a").replace(" a e", " an e").replace(" a i", " an i") for t in texts]
    return Corpus("civil-identity", _frame(texts, "civil-identity", **dict.fromkeys(CATEGORIES, 0.0)), (),
                  "civil sentences naming an identity, from templates in moderation/corpora/abuse.py: 0 for "
                  "every category")


# Our own sentences that attack a group, each beside a civil twin that differs in the words that make it an attack,
# and hatred aimed at things and occupations. The corpora say "I hate <group>" mostly when quoting or rejecting it,
# so the hate head had learned it as civil; the twins keep the group's name and the sentence's shape from being
# learned as hate instead. Written here, apart from tests/test_behaviour.py: none of its sentences, nor its
# derogation verbs and adjectives ("despise", "disgusting", "worst"), appear below.
ATTACK_TWINS = (
    ("I hate {g}.", "I have never hated {g}."), ("I hate {g} so much.", "It is wrong to hate {g}."),
    ("Honestly, I just hate {g}.", "Honestly, I just like {g}."), ("I loathe {g}.", "Nobody here hates {g}."),
    ("I detest {g} and everything they stand for.", "I respect {g} and everything they stand for."),
    ("Everyone I know hates {g}.", "Everyone I know likes {g}."),
    ("I have nothing but contempt for {g}.", "I have nothing but respect for {g}."),
    ("{g} are repulsive.", "{g} are welcome here."), ("{g} are vile and pathetic.", "{g} are kind and generous."),
    ("{g} are a cancer on this country.", "{g} are a blessing to this country."),
    ("{g} ruin everything they touch.", "{g} helped rebuild the old market."),
    ("Never trust {g}, they are all liars.", "{g} are not liars, whatever the trolls say."),
    ("{g} are lazy thieves.", "{g} are hard workers."),
    ("{g} do not belong here and never will.", "{g} belong here as much as anyone."),
    ("Get every last one of the {g} out of our country.", "Welcome every one of the {g} to our country."),
    ("{g} are too dumb to vote.", "{g} have the same right to vote as anyone."),
    ("{g} are less than human.", "{g} are human beings like the rest of us."),
    ("We would be better off without {g}.", "We would be worse off without {g}."),
)
GROUPS = ("gay people", "lesbians", "trans people", "black people", "white people", "Asian people", "disabled people",
          "deaf people", "old people", "Muslims", "Jews", "Christians", "Hindus", "Sikhs", "atheists", "immigrants",
          "migrants", "refugees", "Mexicans", "Arabs", "Africans", "Latinos", "women", "feminists", "Catholics")
# Hatred of things and of occupations is not hate: nobody is attacked for who they are.
THINGS = ("traffic jams", "this weather", "long meetings", "cold coffee", "the new parking rules", "spam emails",
          "waiting in line", "my commute", "tax season", "reality shows")
OCCUPATIONS = ("politicians", "lawyers", "bankers", "tourists", "cyclists", "landlords", "journalists", "referees")
HATRED_OF_OTHERS = ("I hate {x}.", "I loathe {x}.", "Everyone I know hates {x}.", "I detest {x} so much.")


def identity_attacks() -> Corpus:
    """Attacks on groups written here (hate and abusive 1), their civil twins (0 and 0) and hatred of things (hate
    0, abusive 0) and of occupations (hate 0, abusive unknown: a moderator may still find it rude). Each template
    is one cross-validation group, so the out-of-fold scores come from heads that never saw the template."""
    rows = [(attack.format(g=g), 1.0, 1.0, attack) for attack, _ in ATTACK_TWINS for g in GROUPS]
    rows += [(civil.format(g=g), 0.0, 0.0, civil) for _, civil in ATTACK_TWINS for g in GROUPS]
    rows += [(t.format(x=x), 0.0, 0.0, t) for t in HATRED_OF_OTHERS for x in THINGS]
    rows += [(t.format(x=x), 0.0, np.nan, t + " (occupation)") for t in HATRED_OF_OTHERS for x in OCCUPATIONS]
    frame = pd.DataFrame(rows, columns=["text", "hate", "abusive", "template"])
    texts = frame["text"].map(lambda text: text[0].upper() + text[1:])
    return Corpus("identity-attacks", _frame(texts, "identity-attacks", frame["template"], hate=frame["hate"],
                                             abusive=frame["abusive"]), (),
                  "attacks on groups, their civil twins and hatred of things and occupations, from templates in "
                  "moderation/corpora/abuse.py: hate and abusive 1 for the attacks, 0 for the rest (abusive "
                  "unknown for occupations)")


LOADERS = {"insults-2012": insults_2012, "c3": c3, "sfu-ctc": sfu_ctc, "civil-comments": civil_comments,
           "davidson": davidson, "ethos": ethos, "stormfront": stormfront, "gab": gab_hate,
           "implicit-hate": implicit_hate, "tweeteval-offensive": tweeteval_offensive,
           "tweeteval-hate": tweeteval_hate, "news-articles": news_articles,
           "civil-identity": civil_identity, "identity-attacks": identity_attacks}


def load_all(names: tuple[str, ...] | None = None) -> list[Corpus]:
    return [loader() for name, loader in LOADERS.items() if names is None or name in names]


def madlibs() -> pd.DataFrame:
    """Jigsaw's templated identity sentences (``text``, ``label`` 1 = BAD, ``term``): fairness evaluation only."""
    data = pd.read_csv(dataset_path("abuse", "conversationai-bias", "bias_madlibs_77k.csv.gz"))
    return pd.DataFrame({"text": data["Text"], "label": (data["Label"] == "BAD").astype(int)})


def wikipedia_test_sets() -> dict[str, pd.DataFrame]:
    """Conversation AI's Wikipedia talk comments (``text``, ``label`` 1 = toxic), as written and with their identity
    terms swapped for others ("fuzzed"): rows of the Wikipedia Toxicity test split that its publishers give for
    evaluation, so no head is trained on them and no choice is made by them; the gap between the two copies shows
    how much a model leans on identity terms."""
    sets = {}
    for name, file in {"non-fuzzed": "toxicity_nonfuzzed_testset.csv.gz",
                       "fuzzed": "toxicity_fuzzed_testset.csv.gz"}.items():
        data = pd.read_csv(dataset_path("abuse", "conversationai-bias", file))
        sets[name] = pd.DataFrame({"text": data["comment"], "label": data["toxic"].astype(bool).astype(int)})
    return sets
