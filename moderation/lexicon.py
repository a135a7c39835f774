"""Word lists the abuse model's features use: who is named, and what is threatened.

Naming a group is not abuse, so the heads may not learn positive weight from identity words alone (and the civil
identity sentences used in training are built from them). Attacks on a group follow the same patterns whichever
group is named, so a second view of each comment writes every group noun as one token (``xgroupx``), every
verb of physical violence as another (``xviolencex``) and every verb of hatred as a third (``xhatredx``): "kill all
xgroupx" learned from one group's posts then carries over to groups the training data attacks less often, and "I
xhatredx xgroupx" learned from "I hate ..." carries over to "I loathe ...", and every body part a threat names as a
fourth (``xbodyx``). The words right after a negator or a verb of saying are marked there, so negated and quoted
hate read apart from hate said outright.
"""

IDENTITY_WORDS = (
    "gay", "lesbian", "bisexual", "transgender", "trans", "queer", "straight", "homosexual", "heterosexual",
    "lgbt", "lgbtq", "muslim", "jewish", "christian", "catholic", "buddhist", "hindu", "sikh", "atheist", "black",
    "white", "asian", "hispanic", "latino", "latina", "african", "african american", "mexican", "chinese", "indian",
    "arab", "immigrant", "refugee", "deaf", "blind", "disabled", "old", "young", "elderly", "female", "male",
    "feminist", "native american", "indigenous",
)

# Nouns (and adjectives used as nouns) that name people by a protected identity, singular and plural; no slurs.
GROUP_WORDS = frozenset((
    "gay", "gays", "lesbian", "lesbians", "bisexual", "bisexuals", "transgender", "transgenders", "trans",
    "queer", "queers", "homosexual", "homosexuals", "lgbt", "lgbtq", "muslim", "muslims", "moslem",
    "moslems", "islamist", "islamists", "jew", "jews", "jewish", "christian", "christians", "catholic",
    "catholics", "hindu", "hindus", "sikh", "sikhs", "atheist", "atheists", "black", "blacks", "african",
    "africans", "asian", "asians", "hispanic", "hispanics", "latino", "latinos", "latina", "latinas", "mexican",
    "mexicans", "chinese", "indian", "indians", "arab", "arabs", "immigrant", "immigrants", "migrant", "migrants",
    "refugee", "refugees", "foreigner", "foreigners", "disabled", "women",
    "woman", "girls", "females", "feminist", "feminists",
))

# Naming a group, in any of these words, is not abuse.
NEUTRAL_WORDS = tuple(sorted(set(IDENTITY_WORDS) | GROUP_WORDS))

# Nouns that turn an identity word into the name of a group ("black people", "gay men", "the Sikh community"):
# beside identity words they still only name the group.
PEOPLE_WORDS = frozenset(("people", "person", "persons", "folk", "folks", "men", "community", "communities"))

VIOLENCE_WORDS = frozenset((
    "kill", "kills", "killed", "killing", "murder", "murders", "murdered", "murdering", "shoot", "shoots",
    "shooting", "shot", "hang", "hanged", "hanging", "lynch", "lynched", "lynching", "burn", "burned", "burning",
    "stab", "stabbed", "stabbing", "slaughter", "slaughtered", "exterminate", "exterminated", "extermination",
    "eradicate", "eradicated", "eliminate", "eliminated", "execute", "executed", "gas", "gassed", "bomb",
    "bombed", "nuke", "nuked", "behead", "beheaded", "massacre", "massacred", "rape", "raped", "beat", "hurt",
    "torture", "tortured", "annihilate", "wipe", "destroy", "die",
))

# Verbs (and the noun) of hatred and contempt: saying one feels them for a group is the plainest derogation.
HATRED_WORDS = frozenset((
    "hate", "hates", "hated", "hating", "hatred", "despise", "despises", "despised", "despising", "detest",
    "detests", "detested", "loathe", "loathes", "loathed", "loathing", "abhor", "abhors", "abhorred",
))

# Words that negate what follows ("do not hate", "never hated"; "don't" is tokenised "don"): in the generalised view
# the few words after one are marked, so "I do not hate xgroupx" is not read as "hate xgroupx".
NEGATORS = frozenset((
    "not", "no", "never", "nobody", "none", "nothing", "neither", "nor", "cannot", "without", "don", "doesn", "didn",
    "isn", "aren", "wasn", "weren", "wouldn", "shouldn", "couldn", "hasn", "haven", "hadn",
))

# Verbs of saying and calling: the words after one report what someone else says ("people who say xgroupx are
# animals", "stop calling xgroupx vermin"), and counter-speech quotes hate that way to reject it. The generalised
# view marks them, so quoted hate can read apart from hate said outright.
REPORTERS = frozenset((
    "say", "says", "said", "saying", "call", "calls", "called", "calling", "claim", "claims", "claimed", "claiming",
    "label", "labels", "labelled", "labeling", "labelling", "describe", "describes", "described", "describing",
))

# Body parts a threat names ("break your neck", "slit your throat"): one token in the generalised view, so a threat
# learned against one carries over to the others.
BODY_WORDS = frozenset((
    "neck", "necks", "throat", "throats", "skull", "skulls", "head", "heads", "face", "faces", "legs", "leg", "arms",
    "arm", "teeth", "bones", "jaw", "knees", "kneecaps", "spine", "ribs", "eyes", "guts", "brains",
))
