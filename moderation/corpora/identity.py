"""Words that name an identity group. Naming one is not abuse: the abuse model's heads may not learn
positive weight from these words alone, and the civil identity sentences used in training are built from them."""

IDENTITY_WORDS = (
    "gay", "lesbian", "bisexual", "transgender", "trans", "queer", "straight", "homosexual", "heterosexual",
    "lgbt", "lgbtq", "muslim", "jewish", "christian", "catholic", "buddhist", "hindu", "sikh", "atheist", "black",
    "white", "asian", "hispanic", "latino", "latina", "african", "african american", "mexican", "chinese", "indian",
    "arab", "immigrant", "refugee", "deaf", "blind", "disabled", "old", "young", "elderly", "female", "male",
    "feminist", "native american", "indigenous",
)
