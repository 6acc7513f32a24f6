"""The command line end to end: `python -m sk_prodembed` in a subprocess, and the
console command's function (`sk_prodembed._cli:main`) in-process, on small
synthetic catalog files written to tmp_path.

Every bad input must end in one line on stderr and a non-zero exit status,
never a traceback; the tests run those with --quiet, so that the error line is
all of stderr.
"""

import bz2
import csv
import gzip
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sk_prodembed
from sk_prodembed import SKOPS_TRUSTED_TYPES
from sk_prodembed._cli import main
from sk_prodembed.datasets import make_product_catalog

pd = pytest.importorskip("pandas")
sio = pytest.importorskip("skops.io")

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARENT = Path(sk_prodembed.__file__).resolve().parent.parent
# Small models, so that each fit takes a fraction of a second.
FAST = ["--max-iter", "2", "--n-components", "4", "--min-df", "1"]
COLUMNS = ["--text-column", "name", "--label-column", "category"]
# One BLAS thread, as in test_examples.py: faster for tiny matrices on a busy machine.
SINGLE_THREADED_BLAS = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}


def _rows(n_products=80, n_categories=4, seed=0):
    texts, labels = make_product_catalog(n_products, n_categories, random_state=seed)
    return [
        [f"sku{i}", text, f"category {label}"] for i, (text, label) in enumerate(zip(texts, labels))
    ]


def _write(path, rows, *, sep=",", encoding="utf-8", opener=open):
    with opener(path, "wt", encoding=encoding, newline="") as file:
        writer = csv.writer(file, delimiter=sep)
        writer.writerow(["sku", "name", "category"])
        writer.writerows(rows)
    return path


def run_module(*args, cwd):
    env = {
        **os.environ,
        **SINGLE_THREADED_BLAS,
        "PYTHONPATH": os.pathsep.join([str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "sk_prodembed", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def run(capsys, *args):
    """The console command's function, in-process: (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _read_recommendations(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


# -- the command -----------------------------------------------------------


def test_console_command_is_the_main_function():
    # A regular expression, not tomllib, which Python 3.10 lacks.
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    scripts = pyproject[pyproject.index("[project.scripts]") :]
    module, function = re.search(r'^sk-prodembed = "([\w.]+):(\w+)"$', scripts, re.M).groups()
    assert (module, function) == ("sk_prodembed._cli", "main")
    assert sk_prodembed._cli.main is main


def test_fit_in_a_subprocess_then_recommend(capsys, tmp_path):
    rows = _rows()
    _write(tmp_path / "products.csv.gz", rows, opener=gzip.open)
    fitted = run_module(
        "fit", "--csv", "products.csv.gz", *COLUMNS, "--id-column", "sku",
        "--model", "model.skops", *FAST, cwd=tmp_path,
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "Traceback" not in fitted.stderr
    # Stage lines, and the estimator's epochs as k/N.
    for line in ("Reading products.csv.gz", "gzip-compressed CSV, UTF-8",
                 "Vectorising 80 texts", "Fitting TripletEmbedder(4)", "epoch 1/2:",
                 "epoch 2/2:", "Saving model.skops"):
        assert line in fitted.stderr
    assert fitted.stdout == ""

    status, _, err = run(capsys, "recommend", "--model", tmp_path / "model.skops",
                         "--n-recommendations", "3", "--output", tmp_path / "recs.csv")
    assert status == 0, err
    recs = _read_recommendations(tmp_path / "recs.csv")
    assert list(recs[0]) == ["item_id", "rank", "recommended_id", "score"]
    ids = [row[0] for row in rows]
    assert [r["item_id"] for r in recs] == [i for i in ids for _ in range(3)]
    assert [r["rank"] for r in recs] == ["1", "2", "3"] * len(ids)
    assert all(r["recommended_id"] in ids and r["recommended_id"] != r["item_id"] for r in recs)
    for start in range(0, len(recs), 3):
        scores = [float(r["score"]) for r in recs[start : start + 3]]
        assert scores == sorted(scores, reverse=True)


def test_bad_input_in_a_subprocess_is_one_line_and_debug_shows_the_traceback(tmp_path):
    result = run_module("fit", "--csv", "missing.csv", "--model", "m.skops", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "sk-prodembed: error: no such file: missing.csv\n".replace(
        "sk-prodembed", "python -m sk_prodembed")
    debug = run_module("fit", "--csv", "missing.csv", "--model", "m.skops", "--debug", cwd=tmp_path)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "CommandError" in debug.stderr


def test_bare_command_evaluates_on_the_bundled_catalog(tmp_path):
    # The README's first command, with one epoch of 4-dimensional models.
    result = run_module("--max-iter", "1", "--n-components", "4", "--n-examples", "1",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Catalog: bundled Flipkart sample" in result.stdout
    assert "Split: 8068 training and 3458 test products" in result.stdout
    assert "TripletEmbedder(4)" in result.stdout and "Recommendations with" in result.stdout
    assert "epoch 1/1:" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_commands_and_label_rules(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("evaluate", "fit", "recommend"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 5)" in out and "(default: 64)" in out
    assert "categories with fewer than --min-class-size products are dropped" in out
    assert "repeated product names (the first is kept)" in out


def test_bare_options_run_evaluate(capsys, tmp_path):
    # The pre-subcommand form `sk-prodembed --csv F ...` is `evaluate`.
    _write(tmp_path / "p.csv", _rows(100))
    status, out, err = run(capsys, "--csv", tmp_path / "p.csv", *COLUMNS, *FAST)
    assert status == 0, err
    assert "Catalog:" in out and "Split: 70 training and 30 test products" in out
    for method in ("raw TF-IDF", "TruncatedSVD(4)", "MaskedAutoencoderEmbedder(4)",
                   "TripletEmbedder(4)"):
        assert method in out
    assert "Recommendations with" in out


def test_evaluate_reports_rows_kept_and_why(capsys, tmp_path):
    rows = _rows(100)
    rows[0][2] = ""  # no label
    rows[1][1] = rows[2][1]  # a repeated name (row 2 comes later, so it is dropped)
    rows[1][2] = rows[2][2]
    rows += [[f"rare{i}", f"rare product {i}", "tiny category"] for i in range(3)]
    _write(tmp_path / "p.csv", rows)
    status, out, err = run(capsys, "evaluate", "--csv", tmp_path / "p.csv", *COLUMNS, *FAST)
    assert status == 0, err
    assert (
        "Labels: kept 98 of 103 rows, in 4 categories; dropped 1 row without a label, "
        "1 row with a repeated name (the first is kept), 3 rows in 1 category of fewer "
        "than 5 products"
    ) in err
    assert "98 labelled products in 4 categories" in out


def test_evaluate_recommends_with_the_best_method_refitted_on_every_product(capsys, tmp_path):
    # Two products of one category told apart by a word that no training
    # product has: the evaluated models cannot see it (their vocabulary is the
    # training part's), the refitted model, which `fit` would save, does.
    from sklearn.model_selection import train_test_split

    rows = _rows(100)
    labels = [row[2] for row in rows]
    _, test = train_test_split(np.arange(len(rows)), test_size=0.3, stratify=labels,
                               random_state=0)
    first = test[0]
    second = next(i for i in test[1:] if labels[i] == labels[first])
    rows[first][1] = "twin gadget zorblax"
    rows[second][1] = "twin gadget quentar"
    training = np.setdiff1d(np.arange(len(rows)), test)
    rows[training[0]][1] += " twin gadget"  # the shared words are known to every model
    train_words = {word for i in training for word in rows[i][1].split()}
    assert {"zorblax", "quentar"}.isdisjoint(train_words)
    _write(tmp_path / "p.csv", rows)
    status, out, err = run(capsys, "evaluate", "--csv", tmp_path / "p.csv", *COLUMNS, *FAST,
                           "--n-examples", "100")
    assert status == 0, err
    assert "refitted on all 100 products" in out
    block = out.split("\n  twin gadget zorblax  [")[1].split("\n\n")[0]
    score = float(re.search(r"([0-9.]+)  twin gadget quentar  \[", block).group(1))
    assert score < 0.99


def test_evaluate_on_a_vocabulary_of_one_word_skips_truncated_svd(capsys, tmp_path):
    # TruncatedSVD needs two features; it ended the command with scikit-learn's error.
    # Distinct names whose only word in at least 3 products is "item".
    rows = [[f"s{i}", f"item u{i}", "ab"[i % 2]] for i in range(12)]
    _write(tmp_path / "p.csv", rows)
    status, out, err = run(capsys, "evaluate", "--csv", tmp_path / "p.csv", *COLUMNS,
                           "--max-iter", "2", "--n-components", "4", "--min-df", "3",
                           "--min-class-size", "2", "--n-examples", "0")
    assert status == 0, err
    assert "TruncatedSVD skipped: it needs at least 2 features" in err
    assert "TripletEmbedder(4)" in out and "TruncatedSVD" not in out


def test_evaluate_without_examples_skips_the_refit(capsys, tmp_path):
    _write(tmp_path / "p.csv", _rows(100))
    status, out, err = run(capsys, "evaluate", "--csv", tmp_path / "p.csv", *COLUMNS, *FAST,
                           "--n-examples", "0")
    assert status == 0, err
    assert "TripletEmbedder(4)" in out and "Recommendations with" not in out
    assert "again" not in err and "Vectorising 100 texts" not in err
    status, _, err = run(capsys, "evaluate", "--csv", tmp_path / "p.csv", *COLUMNS, *FAST,
                         "--n-examples", "-1", "--quiet")
    assert status == 1 and "--n-examples must be at least 0, got -1" in err


def test_quiet_prints_no_progress(capsys, tmp_path):
    _write(tmp_path / "p.csv", _rows())
    status, out, err = run(
        capsys, "fit", "--csv", tmp_path / "p.csv", "--text-column", "name",
        "--model", tmp_path / "m.pkl", *FAST, "--quiet",
    )
    assert (status, out, err) == (0, "", "")


# -- reading what shops export -----------------------------------------------


def _fit_pickle(capsys, csv_path, tmp_path, *options):
    model_path = tmp_path / "model.pkl"
    status, _, err = run(
        capsys, "fit", "--csv", csv_path, *COLUMNS, "--id-column", "sku",
        "--model", model_path, *FAST, *options,
    )
    assert status == 0, err
    with open(model_path, "rb") as file:
        return pickle.load(file), err


@pytest.mark.parametrize(
    "name, write, described",
    [
        ("p.csv", dict(), "(CSV, UTF-8)"),
        ("p.csv.gz", dict(opener=gzip.open), "(gzip-compressed CSV, UTF-8)"),
        ("p.csv.bz2", dict(opener=bz2.open), "(bz2-compressed CSV, UTF-8)"),
        ("p.tsv", dict(sep="\t"), "(TSV, UTF-8)"),
        ("p.txt", dict(sep=";"), "(semicolon-separated, UTF-8)"),
        ("p.csv", dict(encoding="latin-1"), "(CSV, Latin-1, as the file is not valid UTF-8)"),
        # Compression is read from the content, whatever the name says.
        ("gzip_named.csv", dict(opener=gzip.open), "(gzip-compressed CSV, UTF-8)"),
    ],
)
def test_reads_compressions_separators_and_encodings(capsys, tmp_path, name, write, described):
    rows = _rows()
    rows[0][1] = "crème brûlée café"  # not ASCII: Latin-1 and UTF-8 bytes differ
    model, err = _fit_pickle(capsys, _write(tmp_path / name, rows, **write), tmp_path)
    assert described in err
    assert "crème" in model.named_steps["tfidf"].vocabulary_
    np.testing.assert_array_equal(model.named_steps["recommender"].item_ids_, [r[0] for r in rows])


def test_explicit_separator_and_encoding(capsys, tmp_path):
    rows = _rows()
    rows[0][1] = "crème brûlée café"
    path = _write(tmp_path / "p.dat", rows, sep="|", encoding="cp1252")
    model, err = _fit_pickle(capsys, path, tmp_path, "--sep", "|", "--encoding", "cp1252")
    assert "('|'-separated, cp1252)" in err or "(pipe-separated, cp1252)" in err
    assert "crème" in model.named_steps["tfidf"].vocabulary_


def test_reads_parquet(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    rows = _rows()
    pd.DataFrame(rows, columns=["sku", "name", "category"]).to_parquet(tmp_path / "p.parquet")
    model, err = _fit_pickle(capsys, tmp_path / "p.parquet", tmp_path)
    assert "(Parquet)" in err
    assert len(model.named_steps["recommender"].item_ids_) == len(rows)


def test_reads_the_first_sheet_of_an_excel_workbook(capsys, tmp_path):
    pytest.importorskip("openpyxl")
    rows = _rows()
    rows[2][1] = None  # an empty cell: a product without text
    with pd.ExcelWriter(tmp_path / "export.xlsx") as writer:
        pd.DataFrame(rows, columns=["sku", "name", "category"]).to_excel(
            writer, sheet_name="Products", index=False
        )
        pd.DataFrame({"note": ["not products"]}).to_excel(writer, sheet_name="Notes")
    model, err = _fit_pickle(capsys, tmp_path / "export.xlsx", tmp_path)
    assert "(Excel, sheet 'Products'; 1 other sheet not read)" in err
    assert "Dropped 1 row with an empty 'name'" in err
    ids = model.named_steps["recommender"].item_ids_
    assert list(ids) == [row[0] for row in rows if row[1] is not None]
    # A workbook named .csv is still read as one.
    (tmp_path / "export.xlsx").rename(tmp_path / "export.csv")
    _, err = _fit_pickle(capsys, tmp_path / "export.csv", tmp_path)
    assert "(Excel, sheet 'Products'" in err


def test_an_old_excel_file_is_refused_with_what_to_do(capsys, tmp_path):
    (tmp_path / "export.xls").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    status, _, err = run(capsys, "fit", "--csv", tmp_path / "export.xls", *COLUMNS,
                         "--model", tmp_path / "m.pkl", "--quiet")
    assert status == 1 and "save it as .xlsx or CSV" in err


def test_rows_without_text_are_dropped_and_said(capsys, tmp_path):
    rows = _rows()
    rows[3][1] = ""
    model, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path)
    assert "Dropped 1 row with an empty 'name'" in err
    assert "sku3" not in model.named_steps["recommender"].item_ids_


@pytest.mark.parametrize(
    "markup, text",
    [
        ("<p>Steel <strong>mug</strong></p><br/>", "Steel mug"),
        ("Tom &amp; Jerry&nbsp;mug", "Tom & Jerry mug"),
        ("&lt;p&gt;escaped once more&lt;/p&gt;", "escaped once more"),
        ("<div><!-- hidden --><style>p {color: red}</style>Red<script>x()</script></div>", "Red"),
        ("<img src='mug.png' alt=\"a mug\">Mug", "Mug"),
        # Not markup: a "<" before a digit or a space stays text.
        ("Cable <1m>, size < 5", "Cable <1m>, size < 5"),
        # Only HTML's own elements are markup; inline ones join their neighbours,
        # and a quoted attribute may hold ">".
        ("Size <M> tee", "Size <M> tee"),
        ("Cot<b>ton</b> <SPAN class='x'>shirt</SPAN>", "Cotton shirt"),
        ('<a title="a>b" href="/x">link</a> here', "link here"),
        ("  plain\n\ttext  ", "plain text"),
    ],
)
def test_markup_reads_as_the_text_it_shows(markup, text):
    from sk_prodembed._cli._catalog import plain_text

    assert plain_text(markup) == text


def test_several_text_columns_join_as_plain_text_and_recommend_reads_them_again(
    capsys, tmp_path
):
    # A shop export: a name, an HTML description, a vendor. The words of
    # every column are features; the markup is not.
    texts, labels = make_product_catalog(60, 3, random_state=0)
    header = ["sku", "name", "Body (HTML)", "Vendor", "category"]
    rows = [
        [f"sku{i}", text, f"<p>Made by <b>maker{i % 7}</b>&nbsp;&amp; co</p><br>",
         "" if i % 2 else f"vendor{label}", f"category {label}"]
        for i, (text, label) in enumerate(zip(texts, labels))
    ]
    with open(tmp_path / "export.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *rows])
    columns = ["--text-column", "name", "--text-column", "Body (HTML)", "--text-column", "Vendor"]
    status, _, err = run(capsys, "fit", "--csv", tmp_path / "export.csv", *columns,
                         "--label-column", "category", "--id-column", "sku",
                         "--model", tmp_path / "m.pkl", *FAST)
    assert status == 0, err
    with open(tmp_path / "m.pkl", "rb") as file:
        model = pickle.load(file)
    assert model.text_columns_ == ["name", "Body (HTML)", "Vendor"]
    vocabulary = set(model.named_steps["tfidf"].vocabulary_)
    assert {"maker3", "vendor1", "co", "made"} <= vocabulary
    assert not {"p", "br", "nbsp", "amp", "b"} & vocabulary
    assert not any("<" in word or "&" in word for word in vocabulary)

    # A file of the same export shape, no --text-column: the model's columns
    # are read, so a product identical in all three is its own nearest item.
    with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *([f"new{r[0]}", *r[1:]] for r in rows[:4])])
    status, _, err = run(capsys, "recommend", "--model", tmp_path / "m.pkl", "--csv",
                         tmp_path / "new.csv", "--id-column", "sku", "--n-recommendations", "1",
                         "--output", tmp_path / "recs.csv")
    assert status == 0, err
    recs = _read_recommendations(tmp_path / "recs.csv")
    assert [(r["item_id"], r["recommended_id"]) for r in recs] == [
        (f"newsku{i}", f"sku{i}") for i in range(4)
    ]
    assert all(float(r["score"]) == pytest.approx(1.0, abs=1e-4) for r in recs)
    # A new text given in markup embeds as its plain text.
    status, out, _ = run(capsys, "recommend", "--model", tmp_path / "m.pkl", "--text",
                         "<p>" + " ".join(rows[5][1:3]) + f" {rows[5][3]}</p>",
                         "--n-recommendations", "1")
    assert list(csv.DictReader(out.splitlines()))[0]["recommended_id"] == "sku5"


# -- label cells of several categories, category paths -------------------------

SUBCATEGORIES = ["Clothing > Tshirts", "Clothing > Hoodies", "Decor > Mugs", "Decor > Lamps"]


def _labelled_rows(cell):
    """_rows() with the label cell ``cell(row, category)`` of each of 4 categories."""
    texts, labels = make_product_catalog(80, 4, random_state=0)
    return [[f"sku{i}", text, cell(i, label)] for i, (text, label) in enumerate(zip(texts, labels))]


def _woocommerce_rows():
    # WooCommerce's "Categories": a product's categories joined by ", ", each
    # a path; a product of "Clothing > Tshirts" is often in "Clothing" too.
    forms = ["{path}", "{path}, {top}", "{top}, {path}, Sale", " {top} ,, {path} "]
    return _labelled_rows(lambda i, label: forms[i % 4].format(
        path=SUBCATEGORIES[label], top=SUBCATEGORIES[label].split(" > ")[0]))


def _trained_categories(model):
    # The TripletEmbedder recommends beside the words: it is inside the union.
    return model.named_steps["embedder"].transformer_list[1][1][0].estimator.classes_.tolist()


def test_woocommerce_cells_give_one_label_per_product_the_most_specific(capsys, tmp_path):
    path = _write(tmp_path / "p.csv", _woocommerce_rows())
    model, err = _fit_pickle(capsys, path, tmp_path, "--label-separator", ",")
    assert _trained_categories(model) == sorted(SUBCATEGORIES)
    # "Clothing > Tshirts, Clothing" is "Clothing > Tshirts": no fragments dropped as small.
    assert "Labels: kept 80 of 80 rows, in 4 categories\n" in err
    assert ("Labels: 60 cells held several categories separated by ','; the most specific "
            "was kept") in err


def test_without_label_options_a_cell_is_one_category_as_written(capsys, tmp_path):
    rows = _woocommerce_rows()
    model, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path)
    assert "several categories" not in err and "cut to" not in err
    assert "Labels: kept 58 of 80 rows, in 10 categories; dropped 22 rows in 6 categories" in err
    assert "Clothing > Tshirts, Clothing" in _trained_categories(model)
    assert set(_trained_categories(model)) <= {row[2] for row in rows}


@pytest.mark.parametrize(
    "written, separator",
    [("{} > {} > {}", " > "), ("{} >> {} >> {}", ">>"), ('["{} >> {} >> {}"]', ">>")],
    ids=["Shopify and Google", "Flipkart", "Flipkart's JSON list"],
)
def test_label_depth_cuts_paths_at_either_separator(capsys, tmp_path, written, separator):
    # Three levels under two departments; every 16th product is in "Gifts",
    # a category of one level, which stays whole.
    departments = ["Apparel & Accessories", "Home & Garden"]

    def cell(i, label):
        if i % 16 == 0:
            return "Gifts"
        return written.format(departments[label // 2], f"Group {label}", f"Leaf {i % 3}")

    rows = _labelled_rows(cell)
    model, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path,
                             "--label-depth", "2")
    assert _trained_categories(model) == [
        "Apparel & Accessories > Group 0", "Apparel & Accessories > Group 1", "Gifts",
        "Home & Garden > Group 2", "Home & Garden > Group 3",
    ]
    assert "Labels: kept 80 of 80 rows, in 5 categories\n" in err
    n_paths = len({row[2] for row in rows})
    assert (f"Labels cut to 2 levels (separated by {separator!r}): 5 categories, of {n_paths} "
            "before cutting") in err


def test_the_most_specific_category_is_chosen_before_the_cut(capsys, tmp_path):
    # Cut first, "Sale" and "Clothing" would tie at one level and "Sale" win.
    def cell(i, label):
        if label < 2:
            return f"Sale, {SUBCATEGORIES[label]} > Size {i % 3}"
        return f"{SUBCATEGORIES[label]}, Decor"

    path = _write(tmp_path / "p.csv", _labelled_rows(cell))
    model, err = _fit_pickle(capsys, path, tmp_path, "--label-separator", ",",
                             "--label-depth", "1")
    assert _trained_categories(model) == ["Clothing", "Decor"]
    assert "Labels: 80 cells held several categories separated by ','" in err
    assert "Labels cut to 1 level (separated by ' > '): 2 categories, of 8 before cutting" in err


@pytest.mark.parametrize(
    "cell, separator, depth, label",
    [
        ("Clothing > Tshirts, Clothing", ",", None, "Clothing > Tshirts"),
        ("Clothing, Clothing > Hoodies, Decor", ", ", None, "Clothing > Hoodies"),
        ("Decor > Mugs, Clothing > Tshirts", ",", None, "Decor > Mugs"),  # a tie: the first
        (" , Decor  ,,", ",", None, "Decor"),
        (", ,", ",", None, None),
        # WooCommerce writes a comma of a name as "\,".
        ("Clothing, Lingerie\\, Sleep & Swimwear > Shorts", ",", None,
         "Lingerie, Sleep & Swimwear > Shorts"),
        ("Home | Kitchen > Mugs", "|", None, "Kitchen > Mugs"),
        ("Home & Garden > Kitchen & Dining > Tableware", None, 2,
         "Home & Garden > Kitchen & Dining"),
        ("Clothing  >  Tshirts > ", None, None, "Clothing > Tshirts"),
        ("Gifts", None, 3, "Gifts"),
        ('["Clothing >> Women\'s Clothing >> Shorts"]', None, 2, "Clothing > Women's Clothing"),
        ("Sale, Decor > Lamps > Desk", ",", 1, "Decor"),
    ],
)
def test_a_label_cell_reads_as_one_category(cell, separator, depth, label):
    from sk_prodembed._cli._catalog import category_labels
    from sk_prodembed._cli._progress import Progress

    assert category_labels([cell], separator, depth, Progress(quiet=True)) == [label]


def test_evaluate_cuts_the_bundled_catalog_at_the_label_depth(capsys, monkeypatch):
    # The bundled loader cuts its own trees; a small stand-in saves the training.
    import sk_prodembed.datasets
    from sklearn.utils import Bunch

    depths = []

    def load_flipkart_products(*, depth, min_class_size):
        depths.append(depth)
        texts, labels = make_product_catalog(60, 3, random_state=0)
        labels = np.array([f"category {label}" for label in labels], dtype=object)
        return Bunch(data=texts, target=labels, target_names=np.unique(labels))

    monkeypatch.setattr(sk_prodembed.datasets, "load_flipkart_products", load_flipkart_products)
    for options in ([], ["--label-depth", "1"]):
        status, _, err = run(capsys, *FAST, "--n-examples", "0", "--quiet", *options)
        assert status == 0, err
    assert depths == [2, 1]


# -- models: formats, safe loading, recommendations ---------------------------


@pytest.fixture
def fitted_skops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    _write(folder / "p.csv", _rows())
    status = main(["fit", "--csv", str(folder / "p.csv"), *COLUMNS, "--id-column", "sku",
                   "--model", str(folder / "m.skops"), *FAST, "--quiet"])
    assert status == 0
    return folder / "m.skops"


def test_skops_model_holds_only_trusted_types(fitted_skops):
    assert set(sio.get_untrusted_types(file=fitted_skops)) <= set(SKOPS_TRUSTED_TYPES)


def test_skops_file_with_other_types_is_refused(capsys, tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(Pipeline([("tfidf", FunctionTransformer(pd.isna))]), tmp_path / "other.skops")
    status, _, err = run(capsys, "recommend", "--model", tmp_path / "other.skops", "--quiet")
    assert status == 1
    assert "holds types the command line does not trust: pandas.isna" in err


@pytest.mark.parametrize("suffix", [".joblib", ".pkl"])
def test_joblib_and_pickle_models_by_extension(capsys, tmp_path, suffix):
    _write(tmp_path / "p.csv", _rows())
    model = tmp_path / f"m{suffix}"
    assert run(capsys, "fit", "--csv", tmp_path / "p.csv", *COLUMNS, "--id-column", "sku",
               "--model", model, *FAST)[0] == 0
    status, out, err = run(capsys, "recommend", "--model", model, "--items", "sku5",
                           "--n-recommendations", "2")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "item_id,rank,recommended_id,score"
    assert [line.split(",")[:2] for line in lines[1:]] == [["sku5", "1"], ["sku5", "2"]]


@pytest.mark.parametrize("embedder", ["triplet", "autoencoder"])
def test_fit_saves_the_embedder_without_its_training_state(capsys, tmp_path, embedder):
    import joblib

    _write(tmp_path / "p.csv", _rows())
    path = tmp_path / "m.joblib"
    assert run(capsys, "fit", "--csv", tmp_path / "p.csv", *COLUMNS, "--id-column", "sku",
               "--embedder", embedder, "--model", path, *FAST)[0] == 0
    saved = joblib.load(path).named_steps["embedder"]
    if embedder == "triplet":  # beside the words: the frozen embedder inside the union
        saved = saved.transformer_list[1][1][0].estimator
    assert type(saved).__name__ == {"triplet": "TripletEmbedder",
                                    "autoencoder": "MaskedAutoencoderEmbedder"}[embedder]
    assert hasattr(saved, "encoder_") and not hasattr(saved, "_optimizer")
    assert not hasattr(saved, "decoder_")


def test_recommend_for_items_texts_and_a_file(capsys, tmp_path, fitted_skops):
    status, out, _ = run(capsys, "recommend", "--model", fitted_skops,
                         "--items", "sku1", "sku7", "--n-recommendations", "4")
    assert status == 0
    recs = list(csv.DictReader(out.splitlines()))
    assert [r["item_id"] for r in recs] == ["sku1"] * 4 + ["sku7"] * 4
    assert all(r["recommended_id"] != r["item_id"] for r in recs)

    # A new product's text: the same text as sku3, so sku3 comes first.
    text = _rows()[3][1]
    status, out, _ = run(capsys, "recommend", "--model", fitted_skops, "--text", text,
                         "--n-recommendations", "2")
    recs = list(csv.DictReader(out.splitlines()))
    assert [r["text"] for r in recs] == [text, text]
    assert recs[0]["recommended_id"] == "sku3"
    assert float(recs[0]["score"]) == pytest.approx(1.0, abs=1e-3)

    # A file of products (here new ids): written as TSV, gzip-compressed.
    rows = [[f"new{i}", text, ""] for i, (_, text, _) in enumerate(_rows()[:5])]
    _write(tmp_path / "new.csv", rows)
    status, _, err = run(capsys, "recommend", "--model", fitted_skops, "--csv",
                         tmp_path / "new.csv", "--text-column", "name", "--id-column", "sku",
                         "--n-recommendations", "1", "--output", tmp_path / "recs.tsv.gz")
    assert status == 0, err
    with gzip.open(tmp_path / "recs.tsv.gz", "rt") as file:
        recs = list(csv.DictReader(file, delimiter="\t"))
    assert [(r["item_id"], r["recommended_id"]) for r in recs] == [
        (f"new{i}", f"sku{i}") for i in range(5)
    ]
    assert "Wrote 5 recommendations for 5 queries" in err


def test_recommend_for_a_file_reads_the_model_id_column_or_keys_new_products_by_row(
    capsys, tmp_path, fitted_skops
):
    rows = _rows()
    # The catalog file itself, without --id-column: the model's id column is
    # read from it, so no product is recommended for itself.
    _write(tmp_path / "catalog.csv", rows)
    status, out, _ = run(capsys, "recommend", "--model", fitted_skops, "--csv",
                         tmp_path / "catalog.csv", "--n-recommendations", "2", "--quiet")
    assert status == 0
    recs = list(csv.DictReader(out.splitlines()))
    assert recs[0]["item_id"] == "sku0"
    assert all(r["recommended_id"] != r["item_id"] for r in recs)
    # A file without that column: new products keyed by their row, nothing
    # left out (row 0 is not catalog item 0), the same lists as --text.
    texts = [rows[3][1], rows[5][1]]
    pd.DataFrame({"name": texts}).to_csv(tmp_path / "new.csv", index=False)
    status, out, err = run(capsys, "recommend", "--model", fitted_skops, "--csv",
                           tmp_path / "new.csv", "--n-recommendations", "2")
    assert status == 0 and "No id column" in err
    by_row = list(csv.DictReader(out.splitlines()))
    status, out, _ = run(capsys, "recommend", "--model", fitted_skops, "--text", *texts,
                         "--n-recommendations", "2", "--quiet")
    by_text = list(csv.DictReader(out.splitlines()))
    assert [r["row"] for r in by_row] == ["0", "0", "1", "1"]
    assert [r["recommended_id"] for r in by_row] == [r["recommended_id"] for r in by_text]
    assert by_row[0]["recommended_id"] == "sku3"


def test_rows_with_neither_text_nor_id_are_dropped(capsys, tmp_path):
    # Excel's trailing ",," rows; Shopify's rows of extra images.
    path = _write(tmp_path / "p.csv", [*_rows(), ["", "", ""], ["", "", ""]])
    model, err = _fit_pickle(capsys, path, tmp_path)
    assert "Dropped 2 rows with an empty 'name'" in err
    assert len(model.named_steps["recommender"].item_ids_) == 80


def test_a_float_minus_one_label_is_no_label(capsys, tmp_path):
    rows = _rows()
    for row in rows[:5]:
        row[2] = "-1.0"  # a float column written by pandas, or read from Parquet
    _, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path)
    assert "kept 75 of 80 rows, in 4 categories; dropped 5 rows without a label" in err


def test_a_repeated_name_trains_with_the_label_of_its_labelled_copy(capsys, tmp_path):
    rows = _rows()
    # Unlabelled copies of ten names come first in the file.
    copies = [[f"copy{i}", name, ""] for i, (_, name, _) in enumerate(rows[:10])]
    _, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", [*copies, *rows]), tmp_path)
    assert "kept 80 of 90 rows" in err
    assert "train unlabelled" not in err  # every distinct name trains with its label


def test_reads_excel_unicode_text_utf16(capsys, tmp_path):
    path = _write(tmp_path / "export.txt", _rows(), sep="\t", encoding="utf-16")
    _, err = _fit_pickle(capsys, path, tmp_path)
    assert "(TSV, utf-16)" in err


def test_orders_naming_no_catalog_product_say_so(capsys, tmp_path):
    catalog, _ = _catalog_and_orders(tmp_path, n_orders=30)
    pd.DataFrame({"order_id": [1, 1, 2, 2], "sku": ["x1", "x2", "x1", "x2"]}).to_csv(
        tmp_path / "other.csv", index=False
    )
    status, _, err = run(capsys, "fit", "--csv", catalog, "--orders", tmp_path / "other.csv",
                         "--text-column", "name", "--id-column", "sku",
                         "--model", tmp_path / "m.pkl", *FAST, "--quiet")
    assert status == 1
    assert "no line of other.csv names a product of the catalog" in err.replace(
        str(tmp_path) + os.sep, "")


def test_recommend_among_the_candidates_of_a_file(capsys, tmp_path, fitted_skops):
    # In stock: the even skus, and an id the catalog does not have.
    with open(tmp_path / "stock.csv", "w", encoding="utf-8") as file:
        file.write("sku,quantity\n" + "".join(f"sku{i},3\n" for i in range(0, 80, 2)) + "gone,1\n")
    status, _, err = run(capsys, "recommend", "--model", fitted_skops, "--candidates",
                         tmp_path / "stock.csv", "--n-recommendations", "3",
                         "--output", tmp_path / "recs.csv")
    assert status == 0, err
    assert "Recommending among 40 candidates of" in err and "(1 id not in the catalog" in err
    recs = _read_recommendations(tmp_path / "recs.csv")
    assert len(recs) == 80 * 3
    assert all(int(r["recommended_id"][3:]) % 2 == 0 for r in recs)
    assert all(r["recommended_id"] != r["item_id"] for r in recs)
    # New texts too; and a file with none of the catalog's ids is refused.
    status, out, _ = run(capsys, "recommend", "--model", fitted_skops, "--candidates",
                         tmp_path / "stock.csv", "--text", _rows()[3][1])
    assert status == 0
    assert all(int(r["recommended_id"][3:]) % 2 == 0 for r in csv.DictReader(out.splitlines()))
    with open(tmp_path / "none.csv", "w", encoding="utf-8") as file:
        file.write("sku\nnope\n")
    status, _, err = run(capsys, "recommend", "--model", fitted_skops, "--candidates",
                         tmp_path / "none.csv", "--quiet")
    assert status == 1 and "no id of column 'sku' of " in err


# -- bad input: one line, non-zero exit, no traceback ---------------------------


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def _one_category(folder):
    return _write(folder / "p.csv", [[f"s{i}", f"mug number {i}", "kitchen"] for i in range(20)])


def _small_categories(folder):
    rows = [[f"s{i}", f"thing {i}", f"category {i % 5}"] for i in range(20)]
    return _write(folder / "p.csv", rows)


BAD_INPUTS = {
    "missing file": (lambda p: p / "nowhere.csv", [], "no such file: "),
    "empty file": (lambda p: _write_bytes(p / "e.csv", b""), [], "e.csv is empty"),
    "blank lines only": (lambda p: _write_bytes(p / "e.csv", b"\n\n"), [],
                         "e.csv is empty (no header line)"),
    "header only": (lambda p: _write_bytes(p / "h.csv", b"sku,name,category\n"), [],
                    "h.csv has a header (3 columns) but no rows"),
    "unknown column": (lambda p: _write(p / "p.csv", _rows()), ["--text-column", "title"],
                       "no column 'title' (--text-column) in "),
    "wrong encoding": (lambda p: _write(p / "p.csv", [["1", "café", "x"]] * 10, encoding="latin-1"),
                       ["--encoding", "utf-8"], "is not valid utf-8: byte 0xe9 at position"),
    "gzip read as text": (lambda p: _write(p / "p.csv", _rows(), opener=gzip.open),
                          ["--compression", "none"], "is gzip-compressed, but --compression none"),
    "wrong compression": (lambda p: _write(p / "p.csv.gz", _rows()), ["--compression", "gzip"],
                          "is not compressed, but --compression gzip"),
    "one category": (_one_category, [], "only one category is left after filtering "
                     "('kitchen', 20 products)"),
    "too few rows per category": (_small_categories, [],
                                  "no category has 5 products or more (--min-class-size)"),
    "no word in two products": (lambda p: _write(p / "p.csv", [
        [str(i), f"word{i}", f"c{i % 2}"] for i in range(20)]), ["--min-df", "2"],
        "no word occurs in at least 2 of the "),
    "unknown encoding": (lambda p: _write(p / "p.csv", _rows()), ["--encoding", "klingon"],
                         "unknown --encoding 'klingon'"),
    "wrong separator": (lambda p: _write_bytes(p / "p.csv", b"a,b\n1,2\n1,2,3,4\n"), [],
                        "pass the right one with --sep"),
    "zero components": (lambda p: _write(p / "p.csv", _rows()), ["--n-components", "0"],
                        "--n-components must be at least 1, got 0"),
    "zero label depth": (lambda p: _write(p / "p.csv", _rows()), ["--label-depth", "0"],
                         "--label-depth must be at least 1, got 0"),
}


@pytest.mark.parametrize("command", ["fit", "evaluate"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_a_non_zero_exit(capsys, tmp_path, command, case):
    make_file, options, message = BAD_INPUTS[case]
    path = make_file(tmp_path)
    args = [command, "--csv", path, *COLUMNS, *FAST, *options, "--quiet"]
    if command == "fit":
        args += ["--model", tmp_path / "m.skops"]
    status, out, err = run(capsys, *args)
    assert status == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("sk-prodembed: error: ")
    assert message in err
    # Nothing fitted: no model, no results (evaluate may have described the split).
    assert not (tmp_path / "m.skops").exists()
    assert out == "" if command == "fit" else "precision@10" not in out


def test_one_category_is_refused_before_fitting_anything(capsys, tmp_path):
    status, _, err = run(capsys, "fit", "--csv", _one_category(tmp_path), *COLUMNS,
                         "--model", tmp_path / "m.skops", *FAST)
    assert status == 1
    assert "Reading" in err and "Labels: kept 20 of 20 rows, in 1 category" in err
    assert "Vectorising" not in err and "Fitting" not in err


def test_too_few_products_for_the_split(capsys, tmp_path):
    path = _write(tmp_path / "p.csv", [[f"s{i}", f"thing {i}", f"c{i % 3}"] for i in range(15)])
    status, _, err = run(capsys, "evaluate", "--csv", path, *COLUMNS, *FAST,
                         "--test-size", "0.1", "--quiet")
    assert status == 1
    assert (
        "too few products (15) for a stratified split with --test-size 0.1 and 3 categories"
    ) in err


BAD_OPTIONS = {
    "model extension": (["fit", "--csv", "{csv}", "--model", "{tmp}/m.txt"],
                        "the name must end in .skops, .joblib, .pkl, .pickle"),
    "model folder": (["fit", "--csv", "{csv}", "--model", "{tmp}/no/such/m.skops"],
                     "does not exist"),
    "repeated ids": (["fit", "--csv", "{csv}", "--id-column", "category", "--model", "{tmp}/m.pkl"],
                     "--id-column 'category' has 4 repeated ids"),
    "missing ids": (["fit", "--csv", "{tmp}/no_ids.csv", "--id-column", "sku", "--model",
                     "{tmp}/m.pkl"], "--id-column 'sku' is empty in 1 row of"),
    "triplet without labels": (["fit", "--csv", "{csv}", "--embedder", "triplet", "--model",
                                "{tmp}/m.pkl"], "--embedder triplet needs --label-column"),
    "categories of one": (["fit", "--csv", "{csv}", "--label-column", "category",
                           "--min-class-size", "1", "--model", "{tmp}/m.pkl"],
                          "--min-class-size must be at least 2, got 1"),
    "label separator of paths": (["fit", "--csv", "{csv}", "--label-column", "category",
                                  "--label-separator", " > ", "--model", "{tmp}/m.pkl"],
                                 "--label-separator ' > ' would split category paths"),
    "label depth without labels": (["fit", "--csv", "{csv}", "--label-depth", "2", "--model",
                                    "{tmp}/m.pkl"], "--label-depth needs --label-column"),
    "semicolons in a .csv": (["fit", "--csv", "{tmp}/semicolons.csv", "--model", "{tmp}/m.pkl"],
                             "looks semicolon-separated: pass --sep ';'"),
    "missing model": (["recommend", "--model", "{tmp}/none.skops"], "no such model file"),
    "not a model": (["recommend", "--model", "{tmp}/junk.pkl"], "cannot load"),
    "unknown items": (["recommend", "--model", "{tmp}/m.joblib", "--items", "sku1", "nope"],
                      "1 id of --items not in the model's catalog: 'nope'"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_option_is_one_line_and_a_non_zero_exit(capsys, tmp_path, case):
    csv_path = _write(tmp_path / "p.csv", _rows())
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    _write(tmp_path / "no_ids.csv", [["", "red mug", "kitchen"], *_rows()])
    _write(tmp_path / "semicolons.csv", _rows(), sep=";")
    if case == "unknown items":
        assert main(["fit", "--csv", str(csv_path), "--text-column", "name", "--id-column", "sku",
                     "--model", str(tmp_path / "m.joblib"), *FAST, "--quiet"]) == 0
    template, message = BAD_OPTIONS[case]
    args = [a.format(csv=csv_path, tmp=tmp_path) for a in template]
    if args[0] == "fit":
        args += ["--text-column", "name", *FAST]
    status, _, err = run(capsys, *args, "--quiet")
    assert status == 1
    assert "Traceback" not in err and err.count("\n") == 1
    assert message in err


def test_missing_optional_packages_are_named(capsys, tmp_path, monkeypatch):
    csv_path = _write(tmp_path / "p.csv", _rows())
    pd.DataFrame(_rows()).to_parquet(tmp_path / "p.parquet")
    excel = pytest.importorskip("openpyxl") and tmp_path / "p.xlsx"
    pd.DataFrame(_rows()).to_excel(excel)
    for module in ("pyarrow", "fastparquet", "skops", "skops.io", "openpyxl"):
        monkeypatch.setitem(sys.modules, module, None)
    status, _, err = run(capsys, "fit", "--csv", tmp_path / "p.parquet", "--model",
                         tmp_path / "m.pkl", "--quiet")
    assert status == 1
    assert "reading Parquet" in err and "needs pyarrow: pip install pyarrow" in err
    status, _, err = run(capsys, "fit", "--csv", excel, "--model", tmp_path / "m.pkl", "--quiet")
    assert status == 1
    assert "needs openpyxl: pip install 'sk_prodembed[cli]'" in err
    status, _, err = run(capsys, "fit", "--csv", csv_path, "--model", tmp_path / "m.skops",
                         "--quiet")
    assert status == 1
    assert "needs skops: pip install 'sk_prodembed[cli]'" in err


def test_debug_raises_instead(tmp_path):
    from sk_prodembed._cli._progress import CommandError

    with pytest.raises(CommandError, match="no such file"):
        main(["fit", "--csv", str(tmp_path / "none.csv"), "--model", "m.skops", "--debug"])


def test_repeated_names_train_once_and_stay_in_the_catalog(capsys, tmp_path):
    rows = _rows()
    rows[10][1] = rows[11][1] = rows[12][1]  # three products, one name
    model, err = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path)
    assert "Training on 78 distinct texts; the 2 repeated names are in the catalog" in err
    assert "Fitting TripletEmbedder(4) on 78 products" in err
    assert len(model.named_steps["recommender"].item_ids_) == 80


def test_readme_commands_use_existing_options():
    # The README's command-line block, parsed (not run) by the command's parser.
    import shlex

    from sk_prodembed._cli import _with_default_command, build_parser

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Command line") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)[1].replace("\\\n", " ")
    commands = [shlex.split(line)[1:] for line in block.splitlines()
                if line.startswith("sk-prodembed ")]
    assert [args[0] for args in commands] == ["fit", "recommend", "recommend", "recommend"]
    for args in commands:
        build_parser().parse_args(_with_default_command(args))


def _warns(args, progress):
    import warnings

    warnings.warn("first line\n    second line", UserWarning)
    return 0


def _interrupted(args, progress):
    raise KeyboardInterrupt


def _library_error(args, progress):
    raise RuntimeError("something went wrong\nover two lines")


@pytest.mark.parametrize(
    "job, expected_status, expected_err",
    [
        (_warns, 0, "warning: first line second line\n"),
        (_interrupted, 130, "sk-prodembed: interrupted\n"),
        (_library_error, 1, "sk-prodembed: error: RuntimeError: something went wrong over two "
                            "lines (run with --debug for the traceback)\n"),
    ],
)
def test_warnings_interruptions_and_other_errors_are_one_line(
    capsys, monkeypatch, tmp_path, job, expected_status, expected_err
):
    from sk_prodembed._cli import _fit

    monkeypatch.setattr(_fit, "fit", job)
    status, out, err = run(capsys, "fit", "--csv", "p.csv", "--model", tmp_path / "m.skops")
    assert (status, out, err) == (expected_status, "", expected_err)


def test_products_with_no_known_word_get_no_arbitrary_recommendations(capsys, tmp_path):
    rows = _rows()
    rows[5][1] = "zyzzyva"  # in no other product: no word of the vocabulary at --min-df 2
    _write(tmp_path / "p.csv", rows)
    model = tmp_path / "m.pkl"
    status, _, err = run(capsys, "fit", "--csv", tmp_path / "p.csv", *COLUMNS, "--id-column",
                         "sku", "--model", model, *FAST, "--min-df", "2")
    assert status == 0, err
    assert "1 product with no word in at least --min-df=2 products" in err

    status, out, err = run(capsys, "recommend", "--model", model, "--n-recommendations", "2")
    assert status == 0, err
    assert "No recommendations for 1 query with no word of the model's vocabulary" in err
    assert "warning" not in err
    queries = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert "sku5" not in queries and len(queries) == 2 * (len(rows) - 1)

    status, out, err = run(capsys, "recommend", "--model", model, "--text", "zyzzyva",
                           rows[0][1], "--n-recommendations", "1")
    assert status == 0, err
    assert "No recommendations for 1 query" in err
    assert out.splitlines()[1:] == [f"{rows[0][1]},1,sku0,1.0000"]


# -- pairs from an orders file ------------------------------------------------


def _catalog_and_orders(folder, n_orders=600):
    # Product i is bought with product i + 100 (and a random one), which their
    # texts do not say: only the orders can teach it.
    rows = _rows(200)
    _write(folder / "p.csv", rows)
    rng = np.random.RandomState(0)
    with open(folder / "orders.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "sku"])
        for order in range(n_orders):
            first = rng.randint(100)
            for item in {first, first + 100, rng.randint(200)}:
                writer.writerow([f"o{order}", f"sku{item}"])
        writer.writerow(["o-last", "not-in-the-catalog"])
    return folder / "p.csv", folder / "orders.csv"


def test_fit_learns_from_the_pairs_of_an_orders_file(capsys, tmp_path):
    catalog, orders = _catalog_and_orders(tmp_path)
    model = tmp_path / "m.pkl"
    status, _, err = run(capsys, "fit", "--csv", catalog, "--text-column", "name", "--id-column",
                         "sku", "--orders", orders, "--model", model, "--max-iter", "30",
                         "--n-components", "16", "--min-df", "1")
    assert status == 0, err
    assert "1 order line with a product not in the catalog (or no order id): left out" in err
    assert "pairs of products bought together, from 600 orders" in err
    assert "Fitting TripletEmbedder(16)" in err
    status, out, _ = run(capsys, "recommend", "--model", model, "--n-recommendations", "5",
                         "--quiet")
    recs = list(csv.DictReader(out.splitlines()))
    partners = {(f"sku{i}", f"sku{i + 100}") for i in range(100)}
    found = {(r["item_id"], r["recommended_id"]) for r in recs} & partners
    # The text alone finds almost none of them (a product's partner is random text).
    assert len(found) >= 80


def test_a_triplet_model_recommends_beside_the_words(capsys, tmp_path):
    """Trained on categories, the embedding alone puts a category's products
    nearly on one point (cosines near 1.00 between different products, in an
    order the texts do not explain). The saved model scores by the mean of the
    TF-IDF cosine and the embedding cosine: the category from the embedding,
    the order within it from the words."""
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import normalize

    from sk_prodembed import TripletEmbedder

    rows = _rows(120, 3)
    model, _ = _fit_pickle(capsys, _write(tmp_path / "p.csv", rows), tmp_path,
                           "--max-iter", "40", "--n-components", "8")
    side_by_side = model.named_steps["embedder"]
    assert isinstance(side_by_side, FeatureUnion)
    triplet = side_by_side.transformer_list[1][1][0].estimator
    assert isinstance(triplet, TripletEmbedder)

    words = model.named_steps["tfidf"].transform([text for _, text, _ in rows])
    alone = normalize(triplet.transform(words))
    word_cosines = (words @ words.T).toarray()
    expected = (word_cosines + alone @ alone.T) / 2
    features = side_by_side.transform(words)
    np.testing.assert_allclose((features @ features.T).toarray(), expected, atol=1e-5)

    labels = np.array([category for _, _, category in rows])
    same = labels[:, None] == labels[None, :]
    different_text = word_cosines < 0.999
    # What the fix is for: alone, different products of a category tie near 1.
    assert np.median((alone @ alone.T)[same & different_text]) > 0.95
    status, out, _ = run(capsys, "recommend", "--model", tmp_path / "model.pkl",
                         "--n-recommendations", "5", "--quiet")
    assert status == 0
    recs = list(csv.DictReader(out.splitlines()))
    category = {sku: label for sku, _, label in rows}
    scores = np.array([float(r["score"]) for r in recs])
    assert np.median(scores) < 0.9  # no longer a tie near 1
    in_category = np.mean([category[r["item_id"]] == category[r["recommended_id"]]
                           for r in recs])
    assert in_category > 0.9  # and the category still leads


BAD_ORDERS = {
    "no id column": (["--text-column", "name"], "--orders needs --id-column"),
    "unknown order column": (["--text-column", "name", "--id-column", "sku", "--order-column",
                              "basket"], "no column 'basket' (--order-column) in"),
    "no pair": (["--text-column", "name", "--id-column", "sku", "--min-pair-count", "1000"],
                "no pair of catalog products is in at least --min-pair-count=1000 of the orders"),
    "autoencoder": (["--text-column", "name", "--id-column", "sku", "--embedder", "autoencoder"],
                    "--orders trains the triplet embedder"),
    "npmi out of range": (["--text-column", "name", "--id-column", "sku", "--min-npmi", "2"],
                          "--min-npmi must be between -1 and 1, got 2.0"),
}


@pytest.mark.parametrize("case", list(BAD_ORDERS))
def test_bad_orders_input_is_one_line_before_fitting(capsys, tmp_path, case):
    catalog, orders = _catalog_and_orders(tmp_path, n_orders=30)
    options, message = BAD_ORDERS[case]
    status, out, err = run(capsys, "fit", "--csv", catalog, "--orders", orders, *options,
                           "--model", tmp_path / "m.pkl", *FAST, "--quiet")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "m.pkl").exists()
