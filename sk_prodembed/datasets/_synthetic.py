"""Synthetic product-title catalogs with known categories, for fast tests and examples."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

# Consonant-vowel syllables: generated words are letters only, so any text
# vectorizer's default tokenizer keeps them whole.
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _word(index):
    """The ``index``-th made-up word; distinct indices give distinct words.

    Indices below 70**2 spell every two-syllable word, the next 70**3 every
    three-syllable word, and so on: each syllable is a base-70 digit.
    """
    base, n_syllables = len(_SYLLABLES), 2
    while index >= base**n_syllables:
        index -= base**n_syllables
        n_syllables += 1
    syllables = []
    for _ in range(n_syllables):
        index, digit = divmod(index, base)
        syllables.append(_SYLLABLES[digit])
    return "".join(syllables)


def _zipf_weights(size):
    # Word frequencies in titles fall off roughly as 1 / rank: a few words
    # (the category's head nouns) are common, most are rare.
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


@validate_params(
    {
        "n_products": [Interval(Integral, 1, None, closed="left")],
        "n_categories": [Interval(Integral, 1, None, closed="left")],
        "vocabulary_size": [Interval(Integral, 2, None, closed="left")],
        "words_per_product": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_product_catalog(
    n_products=1000,
    n_categories=10,
    *,
    vocabulary_size=330,
    words_per_product=6,
    noise=0.3,
    random_state=None,
):
    """Generate product-title-like texts with known categories.

    The vocabulary of made-up words (``"bakedo"``, ``"tisu"``, ...) is split
    into ``n_categories + 1`` equal blocks: one block of characteristic words
    per category, and one block of shared words that any product may use
    (like brands, colours and sizes in real titles). Each product belongs to
    one category (categories are balanced) and its title has
    ``words_per_product`` distinct words; each word is a shared one with
    probability ``noise``, else one of its category's words. Within a block,
    word frequencies follow a Zipf law. A text vectorizer followed by a
    nearest-neighbour search therefore recovers the categories well for small
    ``noise`` and not at all for ``noise=1``.

    Parameters
    ----------
    n_products : int, default=1000
        Number of products.
    n_categories : int, default=10
        Number of categories.
    vocabulary_size : int, default=330
        Number of distinct words; each of the ``n_categories + 1`` blocks gets
        ``vocabulary_size // (n_categories + 1)`` of them (leftover words are
        shared). Each block must hold at least ``words_per_product`` words.
    words_per_product : int, default=6
        Words in each title.
    noise : float in [0, 1], default=0.3
        Probability that a word is a shared word rather than a category word.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator; an int gives the same catalog on every call.

    Returns
    -------
    texts : ndarray of object of shape (n_products,)
        Product titles, words separated by spaces.
    labels : ndarray of int of shape (n_products,)
        Category of each product, in ``range(n_categories)``.

    Examples
    --------
    >>> from sk_prodembed.datasets import make_product_catalog
    >>> texts, labels = make_product_catalog(6, 2, noise=0.0, random_state=0)
    >>> texts.shape, labels.tolist()
    ((6,), [1, 0, 1, 1, 0, 0])
    >>> len(texts[0].split())
    6
    """
    block_size = vocabulary_size // (n_categories + 1)
    if block_size < words_per_product:
        raise ValueError(
            f"vocabulary_size={vocabulary_size} gives each of the {n_categories + 1} "
            f"word blocks {block_size} words, fewer than words_per_product="
            f"{words_per_product}; raise vocabulary_size to at least "
            f"{words_per_product * (n_categories + 1)}."
        )
    rng = check_random_state(random_state)
    # Drawn at random among the short words, so that a category's words are
    # not neighbours in spelling.
    n_short_words = max(vocabulary_size, len(_SYLLABLES) ** 2)
    word_indices = rng.choice(n_short_words, vocabulary_size, replace=False)
    words = np.array([_word(index) for index in word_indices])
    category_words = words[: block_size * n_categories].reshape(n_categories, block_size)
    shared_words = words[block_size * n_categories :]
    category_weights = _zipf_weights(block_size)
    shared_weights = _zipf_weights(len(shared_words))

    labels = rng.permutation(np.arange(n_products) % n_categories)
    n_shared = rng.binomial(words_per_product, noise, size=n_products)
    texts = np.empty(n_products, dtype=object)
    for product, (label, shared_count) in enumerate(zip(labels, n_shared)):
        title = np.concatenate(
            [
                rng.choice(
                    category_words[label],
                    words_per_product - shared_count,
                    replace=False,
                    p=category_weights,
                ),
                rng.choice(shared_words, shared_count, replace=False, p=shared_weights),
            ]
        )
        texts[product] = " ".join(rng.permutation(title))
    return texts, labels
