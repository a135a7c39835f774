import pandas as pd
import pytest

from moderation.policy import Policy, PolicyError, Rule

CARD = {"thresholds": {"abusive": {"review": 0.3, "reject": 0.8}, "insult": {"review": 0.4, "reject": 0.9},
                       "off_topic": {"review": 0.6, "reject": None}}}


def test_decisions_follow_the_thresholds():
    policy = Policy.from_cards(CARD)
    proba = pd.DataFrame({"abusive": [0.1, 0.5, 0.95, 0.1], "insult": [0.99, 0.0, 0.0, 0.0],
                          "off_topic": [0.0, 0.0, 0.0, 0.99]})
    decisions, codes, triggered = policy.decide(proba)
    # insult is reported but does not decide by default; off-topic never rejects (no reject threshold)
    assert decisions.tolist() == ["approve", "review", "reject", "review"]
    assert codes == [[], ["ABUSIVE"], ["ABUSIVE"], ["IRRELEVANT_CONTENT"]]
    assert triggered[3] == ["off_topic"]


def test_site_policy_file_overrides_and_switches_off(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[categories.abusive]\nreject = 0.99\n[categories.off_topic]\nenabled = false\n'
                    '[categories.insult]\nenabled = true\n')
    policy = Policy.from_cards(CARD).with_file(path)
    assert policy.rules["abusive"] == Rule(0.3, 0.99, True)
    decisions, _, _ = policy.decide(pd.DataFrame({"abusive": [0.95], "insult": [0.0], "off_topic": [1.0]}))
    assert decisions.tolist() == ["review"]
    decisions, codes, _ = policy.decide(pd.DataFrame({"abusive": [0.0], "insult": [0.95], "off_topic": [0.0]}))
    assert decisions.tolist() == ["reject"] and codes == [["INSULT"]]


@pytest.mark.parametrize("text", ['[categories.abusive]\nreview = 2\n', '[categories.nope]\nreview = 0.5\n',
                                  '[categories.abusive]\nreview = 0.9\nreject = 0.5\n',
                                  '[categories.abusive]\nrevew = 0.5\n', "not toml ["])
def test_bad_policy_files_are_refused_with_the_file_named(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="bad.toml"):
        Policy.from_cards(CARD).with_file(path)


def test_per_run_thresholds():
    policy = Policy.from_cards(CARD).with_thresholds("abusive", review=0.05)
    assert policy.rules["abusive"] == Rule(0.05, 0.8, True)
    with pytest.raises(PolicyError):
        Policy.from_cards(CARD).with_thresholds("abusive", review=0.9, reject=0.1)


BASIS_CARD = {"thresholds": {"off_topic": {"review": 0.6, "reject": None,
                                           "review_by_basis": {"article": 0.6, "comment": 0.3}}}}


def test_each_basis_has_its_own_review_threshold():
    policy = Policy.from_cards(BASIS_CARD)
    proba = pd.DataFrame({"off_topic": [0.4, 0.4, 0.7, 0.2]})
    decisions, _, _ = policy.decide(proba, {"off_topic": ["article", "comment", "article", "comment"]})
    assert decisions.tolist() == ["approve", "review", "review", "approve"]
    # without the basis every row gets the category's review threshold
    assert policy.decide(proba)[0].tolist() == ["approve", "approve", "review", "approve"]
    assert policy.thresholds()["off_topic"]["review_by_basis"] == {"article": 0.6, "comment": 0.3}


def test_policy_file_sets_a_basis_or_every_basis(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text("[categories.off_topic.review_by_basis]\ncomment = 0.5\n")
    assert Policy.from_cards(BASIS_CARD).with_file(path).rules["off_topic"].review_by_basis == {"comment": 0.5}
    path.write_text("[categories.off_topic]\nreview = 0.45\n")
    rule = Policy.from_cards(BASIS_CARD).with_file(path).rules["off_topic"]
    assert rule.review == 0.45 and rule.review_by_basis == {}
    for bad in ("review_by_basis = 0.5\n", "review_by_basis = {comment = 1.5}\n", "reject = 0.4\n"):
        path.write_text("[categories.off_topic]\n" + bad)
        with pytest.raises(PolicyError, match="site.toml"):
            Policy.from_cards(BASIS_CARD).with_file(path)
