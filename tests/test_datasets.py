import sys
from collections import Counter
from importlib import resources

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sk_prodembed.datasets import (
    labelled_product_mask,
    load_flipkart_products,
    make_product_catalog,
)

# -- the bundled Flipkart catalog (read from the package copy)


@pytest.fixture(scope="module")
def all_products():
    return load_flipkart_products()


def test_data_file_and_licence_ship_inside_the_package():
    data = resources.files("sk_prodembed.datasets") / "data"
    assert (data / "flipkart_products.csv.gz").is_file()
    licence = (data / "LICENSE_flipkart.txt").read_text(encoding="utf-8")
    assert "PromptCloud" in licence and "CC BY-SA 4.0" in licence


def test_bunch_contents(all_products):
    products = all_products
    assert products.data.shape == products.target.shape == products.item_ids.shape == (20000,)
    assert products.frame is None
    assert products.feature_names == ["product_name"]
    assert "PromptCloud" in products.DESCR and "CC BY-SA 4.0" in products.DESCR
    assert len(set(products.item_ids)) == 20000
    assert products.data[0] == "Alisha Solid Women's Cycling Shorts"
    assert list(products.target_names) == sorted(set(products.target))


def test_labels_are_category_paths_without_the_product_level(all_products):
    deep = load_flipkart_products(depth=10)
    tree = all_products.category_tree[0]
    assert tree.endswith(">> Alisha Solid Women's Cycling Shorts")
    assert deep.target[0] == (
        "Clothing > Women's Clothing > Lingerie, Sleep & Swimwear > Shorts > Alisha Shorts"
    )
    assert all_products.target[0] == "Clothing > Women's Clothing"
    assert load_flipkart_products(depth=1).target[0] == "Clothing"
    # Level counts never exceed depth; products without a category get "".
    assert max(label.count(" > ") for label in all_products.target) == 1
    single_level = np.array([">>" not in tree for tree in all_products.category_tree])
    assert single_level.sum() == 328
    assert np.all(all_products.target[single_level] == "")


def test_category_precision_subset():
    products = load_flipkart_products(depth=2, min_class_size=5)
    assert products.data.shape == (11526,)
    assert len(products.target_names) == 108
    assert len(set(products.data)) == len(products.data)
    assert min(Counter(products.target).values()) >= 5
    # Every kept tree is deeper than two levels: two categories plus the product.
    assert all(tree.count(" >> ") >= 2 for tree in products.category_tree)
    assert all(label.count(" > ") == 1 for label in products.target)


def test_category_precision_subset_at_other_depths():
    coarse = load_flipkart_products(depth=1, min_class_size=20)
    assert all(" > " not in label for label in coarse.target)
    assert min(Counter(coarse.target).values()) >= 20
    assert len(coarse.data) > 11526


def test_as_frame_and_return_x_y(all_products):
    products = load_flipkart_products(as_frame=True)
    frame = products.frame
    assert list(frame.columns) == [
        "uniq_id", "product_name", "category_tree", "description", "brand", "category"
    ]
    assert frame["description"].notna().sum() == 998
    assert frame["brand"].notna().sum() == 421
    assert list(products.data) == list(all_products.data)
    assert list(products.target) == list(all_products.target)
    data, target = load_flipkart_products(return_X_y=True, depth=2, min_class_size=5)
    assert isinstance(data, np.ndarray) and data.shape == target.shape == (11526,)
    data_frame, target_frame = load_flipkart_products(
        return_X_y=True, as_frame=True, min_class_size=5
    )
    assert list(data_frame) == list(data) and target_frame.name == "category"


def test_pandas_is_optional(monkeypatch):
    # A None entry in sys.modules makes `import pandas` raise ImportError.
    monkeypatch.setitem(sys.modules, "pandas", None)
    data, target = load_flipkart_products(return_X_y=True)
    assert len(data) == 20000
    with pytest.raises(ImportError, match="requires pandas"):
        load_flipkart_products(as_frame=True)


def test_loader_parameters_are_validated():
    with pytest.raises(InvalidParameterError, match="depth"):
        load_flipkart_products(depth=0)
    with pytest.raises(InvalidParameterError, match="min_class_size"):
        load_flipkart_products(min_class_size=0)


# -- label filtering of the category-precision protocol


def _reference_mask(texts, labels, min_class_size, drop_duplicates):
    labelled = [
        i for i, label in enumerate(labels) if label is not None and label == label and label != ""
    ]
    if drop_duplicates:
        first_rows, seen = [], set()
        for i in labelled:
            if texts[i] not in seen:
                first_rows.append(i)
                seen.add(texts[i])
        labelled = first_rows
    sizes = Counter(labels[i] for i in labelled)
    kept = {i for i in labelled if sizes[labels[i]] >= min_class_size}
    return [i in kept for i in range(len(texts))]


@pytest.mark.parametrize("drop_duplicates", [True, False])
@pytest.mark.parametrize("min_class_size", [1, 3, 5])
def test_labelled_product_mask_matches_reference(drop_duplicates, min_class_size):
    rng = np.random.default_rng(min_class_size)
    texts = [f"product {i}" for i in rng.integers(0, 40, size=120)]
    labels = list(rng.choice(["a", "b", "c", "d", "e", "", None, float("nan")], size=120))
    mask = labelled_product_mask(
        texts, labels, min_class_size=min_class_size, drop_duplicates=drop_duplicates
    )
    assert mask.dtype == bool
    assert mask.tolist() == _reference_mask(texts, labels, min_class_size, drop_duplicates)


def test_labelled_product_mask_counts_classes_after_dropping_duplicates():
    texts = ["mug", "mug", "mug", "lamp", "desk"]
    labels = ["kitchen", "kitchen", "kitchen", "home", "home"]
    assert labelled_product_mask(texts, labels, min_class_size=2).tolist() == [
        False, False, False, True, True
    ]
    with pytest.raises(ValueError, match="texts has 2 rows but labels has 1"):
        labelled_product_mask(["a", "b"], ["x"])


def test_labelled_product_mask_accepts_pandas_missing_values():
    pd = pytest.importorskip("pandas")
    labels = pd.Series(["a", pd.NA, "a", None], dtype=object)
    texts = pd.Series(["x", "y", "z", "w"])
    assert labelled_product_mask(texts, labels, min_class_size=1).tolist() == [
        True, False, True, False
    ]


# -- synthetic catalogs


def test_make_product_catalog_shapes_and_balance():
    texts, labels = make_product_catalog(103, 4, words_per_product=5, random_state=0)
    assert texts.shape == labels.shape == (103,)
    assert texts.dtype == object and labels.dtype.kind == "i"
    assert sorted(Counter(labels).values()) == [25, 26, 26, 26]
    assert all(len(text.split()) == len(set(text.split())) == 5 for text in texts)


def test_make_product_catalog_is_deterministic():
    first = make_product_catalog(50, 3, random_state=7)
    second = make_product_catalog(50, 3, random_state=7)
    other = make_product_catalog(50, 3, random_state=8)
    assert first[0].tolist() == second[0].tolist()
    assert first[1].tolist() == second[1].tolist()
    assert first[0].tolist() != other[0].tolist()


def test_noise_controls_how_much_words_reveal_the_category():
    texts, labels = make_product_catalog(300, 5, noise=0.0, random_state=0)
    words_of = {label: set() for label in range(5)}
    for text, label in zip(texts, labels):
        words_of[label] |= set(text.split())
    # Without noise, categories share no word.
    for a in range(5):
        for b in range(a + 1, 5):
            assert not words_of[a] & words_of[b]

    texts, labels = make_product_catalog(300, 5, noise=1.0, random_state=0)
    vocabularies = [set(text.split()) for text in texts]
    shared = set.union(*vocabularies)
    # With full noise every title draws from one shared block of words.
    assert len(shared) <= 330 - 5 * (330 // 6)


def test_make_product_catalog_validates_parameters():
    with pytest.raises(ValueError, match="raise vocabulary_size to at least 66"):
        make_product_catalog(10, 10, vocabulary_size=50, words_per_product=6)
    with pytest.raises(InvalidParameterError, match="noise"):
        make_product_catalog(noise=1.5)
