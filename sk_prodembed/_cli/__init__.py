"""The ``sk-prodembed`` command (also ``python -m sk_prodembed``).

Subcommands: ``evaluate`` (the default), ``fit`` and ``recommend``; see
:func:`build_parser`. Heavy imports (scikit-learn, pandas) wait until the
options are parsed, so ``--help`` and bad options answer at once.
"""

import argparse
import os
import sys
import textwrap
import warnings

from ._progress import CommandError, Progress
from ._catalog import DEFAULT_TEXT_COLUMN
from ._read import COMPRESSIONS

COMMANDS = ("evaluate", "fit", "recommend")

_DESCRIPTION = """\
Learn product embeddings on a catalog, evaluate them, save them, recommend.

  %(prog)s                       evaluate on the bundled Flipkart catalog
  %(prog)s evaluate --csv F ...  evaluate on your catalog (texts and labels)
  %(prog)s fit --csv F ... --model model.skops
  %(prog)s recommend --model model.skops --output recs.csv

Run '%(prog)s COMMAND --help' for the options of a command. Progress lines go
to stderr (silence them with --quiet); results go to stdout or --output.
"""

_LABELS = (
    "Labels: rows with an empty label (or -1) are unlabelled; of the labelled rows, "
    "repeated product names (the first is kept) and categories with fewer than "
    "--min-class-size products are dropped, as in the project's evaluation protocol. "
    "The command says how many rows were kept, and why the others were dropped. "
    "--label-separator reads a cell of several categories as its most specific one, "
    "and --label-depth cuts category paths, before this filtering."
)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows '(default: ...)' for options that have a meaningful default."""

    def _get_help_string(self, action):
        help = action.help or ""
        if (
            "%(default)" not in help
            and action.default is not None
            and action.default is not False
            and action.default != argparse.SUPPRESS
            and action.option_strings
        ):
            help += " (default: %(default)s)"
        return help


def _paragraphs(*texts):
    return "\n\n".join(textwrap.fill(text, 79) for text in texts)


def _reading_options(csv_default, text_default=DEFAULT_TEXT_COLUMN):
    parser = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    group = parser.add_argument_group("reading the catalog file")
    group.add_argument(
        "--csv", metavar="FILE", required=csv_default is None,
        help="products, one a row: .csv, .tsv, .txt, compressed (.gz, .bz2, .xz, .zip, "
        ".zst) or not, an Excel .xlsx (its first sheet), or .parquet (needs pyarrow)"
        + ("" if csv_default is None else f"; default: {csv_default}"),
    )
    group.add_argument(
        "--text-column", action="append", metavar="COLUMN",
        help="column with the product text; repeat it to join several columns with a space "
        "(name, brand, description, ...). HTML markup (tags, entities such as &amp;) is read "
        f"as the text it shows (default: {text_default})",
    )
    group.add_argument(
        "--sep", default="auto",
        help="field separator: auto (from the extension: .csv comma, .tsv tab; otherwise "
        "guessed from the first lines), or a character ('tab', ';', '|')",
    )
    group.add_argument(
        "--encoding", default="auto",
        help="text encoding: auto (UTF-8, falling back to Latin-1 if the file is not valid "
        "UTF-8), or any Python codec (utf-8, latin-1, cp1252)",
    )
    group.add_argument(
        "--compression", default="auto", choices=COMPRESSIONS,
        help="auto: detected from the file's first bytes",
    )
    return parser


def _common_options():
    parser = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    group = parser.add_argument_group("output")
    group.add_argument("--quiet", action="store_true", help="no progress lines")
    group.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def _training_options():
    parser = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    group = parser.add_argument_group("training")
    group.add_argument(
        "--min-class-size", type=int, default=5,
        help="smallest category kept for training and evaluation (at least 2)",
    )
    group.add_argument("--n-components", type=int, default=64, help="embedding dimension")
    group.add_argument(
        "--max-iter", type=int,
        help="most epochs per embedder (default: the embedders' max_iter='auto', epochs "
        "adapted to the catalog's size until the loss settles)",
    )
    group.add_argument(
        "--min-df", type=int, default=2,
        help="smallest number of products a word must occur in to be a TF-IDF feature",
    )
    group.add_argument("--random-state", type=int, default=0, help="seed of splits and models")
    return parser


def _label_options(command, help, default=None, depth_default="the whole path"):
    """``--label-column``, and how its cells read as one category per product."""
    command.add_argument("--label-column", default=default, help=help)
    command.add_argument(
        "--label-separator", metavar="SEP",
        help="separator of several categories in one label cell, such as ',' for "
        "WooCommerce's 'Categories' ('Clothing > Tshirts, Clothing'): a product's label is "
        "its most specific category (the most path levels; the first of a tie), and a "
        "backslash before SEP makes it part of a name, as WooCommerce escapes commas "
        "(default: none, a cell is one category)",
    )
    command.add_argument(
        "--label-depth", type=int, metavar="N",
        help="cut each category path to its first N levels, separated by ' > ' (Shopify, "
        "Google, WooCommerce) or '>>' (Flipkart), whichever the column uses; a category "
        f"without a separator is one level (default: {depth_default})",
    )


def build_parser(prog="sk-prodembed"):
    from . import _evaluate, _fit, _recommend

    parser = argparse.ArgumentParser(
        prog=prog, description=_DESCRIPTION, formatter_class=_HelpFormatter
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        parents=[_reading_options("the bundled Flipkart catalog"), _training_options(),
                 _common_options()],
        formatter_class=_HelpFormatter,
        help="fit on 70%% of the labelled products, print test precision@10 of TF-IDF, "
        "TruncatedSVD and both embedders, and example recommendations (the default command)",
        description=_paragraphs(
            "Split the labelled products (stratified), fit TF-IDF -> TruncatedSVD, "
            "MaskedAutoencoderEmbedder and TripletEmbedder on the training part, print the "
            "test precision@10 of each next to raw TF-IDF, then recommendations for a few "
            "example products with the best method, refitted on every product (as fit "
            "fits on the whole catalog).", _LABELS),
    )
    _label_options(evaluate, "column with the category", default="category",
                   depth_default="the whole path; the bundled catalog: 2")
    evaluate.add_argument("--test-size", type=float, default=0.3, help="share of products held out")
    evaluate.add_argument(
        "--n-examples", type=int, default=3,
        help="example products shown; 0 skips the examples and the refit they need",
    )
    evaluate.add_argument("--n-recommendations", type=int, default=5,
                          help="recommendations shown per example product")
    evaluate.set_defaults(run=_evaluate.evaluate)

    fit = commands.add_parser(
        "fit",
        parents=[_reading_options(None), _training_options(), _common_options()],
        formatter_class=_HelpFormatter,
        help="fit TF-IDF -> embedder on a catalog file and save the model",
        description=_paragraphs(
            "Fit TF-IDF -> embedder on every product of --csv and save the model with "
            "the embeddings of the whole catalog, ready for 'recommend'. With "
            "--label-column the TripletEmbedder learns from the categories, and products "
            "without a kept label train as unlabelled rows; without it, the "
            "MaskedAutoencoderEmbedder learns from the texts alone. A repeated name trains "
            "once; every product with a text is in the catalog. A TripletEmbedder "
            "recommends beside the words (the mean of the TF-IDF and embedding cosines): "
            "alone, it puts a category's products nearly on one point.", _LABELS),
    )
    _label_options(fit, "column with the category (default: none, no labels)")
    fit.add_argument(
        "--id-column",
        help="column with unique item ids (default: none, row numbers from 0 are the ids)",
    )
    fit.add_argument(
        "--embedder", choices=("auto", "triplet", "autoencoder"), default="auto",
        help="auto: triplet with --label-column, autoencoder without",
    )
    orders = fit.add_argument_group(
        "pairs from orders",
        "With --orders, the TripletEmbedder also learns from products bought together: "
        "pairs of products in at least --min-pair-count orders, whose normalised PMI is at "
        "least --min-npmi (this discounts staples bought with everything), weighted by their "
        "number of orders. Needs --id-column, the ids the orders file names.",
    )
    orders.add_argument(
        "--orders", metavar="FILE",
        help="order lines, one row per product of an order (read as --csv is, with the "
        "separator, encoding and compression detected)",
    )
    orders.add_argument("--order-column", default="order_id", help="column of the order ids")
    orders.add_argument(
        "--order-item-column",
        help="column of the product ids (default: the --id-column name)",
    )
    orders.add_argument("--min-pair-count", type=int, default=3,
                        help="fewest orders holding both products of a pair")
    orders.add_argument("--min-npmi", type=float, default=0.25,
                        help="smallest normalised PMI of a pair, in [-1, 1]")
    fit.add_argument(
        "--n-recommendations", type=int, default=10,
        help="recommendations per product stored in the model (recommend can ask for others)",
    )
    fit.add_argument(
        "--model", metavar="FILE", required=True,
        help="where to save the model: .skops (safe to load, needs skops), .joblib or .pkl",
    )
    fit.set_defaults(run=_fit.fit)

    recommend = commands.add_parser(
        "recommend",
        parents=[
            _reading_options(
                "none, recommend for the whole catalog of the model",
                text_default="the columns the model was fitted on",
            ),
            _common_options(),
        ],
        formatter_class=_HelpFormatter,
        help="write the recommendations of a saved model to a CSV file",
        description=_paragraphs(
            "Write recommendations as CSV rows 'item_id,rank,recommended_id,score' "
            "(rank 1 is the most similar; score is the cosine similarity). The queries "
            "are the whole catalog of the model (the default), --items of the catalog, "
            "the products of --csv, or new product --text ('text' is then the first "
            "column). A product is never recommended for itself."),
    )
    recommend.add_argument("--model", metavar="FILE", required=True, help="a model saved by fit")
    queries = recommend.add_mutually_exclusive_group()
    queries.add_argument("--items", nargs="+", metavar="ID", help="catalog item ids")
    queries.add_argument("--text", nargs="+", metavar="TEXT", help="texts of new products")
    recommend.add_argument(
        "--id-column",
        help="with --csv: column with the item ids (default: the --id-column given to fit, "
        "if the file has it; else the rows are new products, keyed by their row number)",
    )
    recommend.add_argument(
        "--n-recommendations", type=int,
        help="recommendations per query (default: the number given to fit, 10)",
    )
    recommend.add_argument(
        "--candidates", metavar="FILE",
        help="recommend only these items (in stock, say): a table of item ids with a "
        "header line, read as --csv is (default: every item of the catalog)",
    )
    recommend.add_argument(
        "--candidate-column",
        help="the column of --candidates with the ids (default: its first column)",
    )
    recommend.add_argument(
        "--output", metavar="FILE", default="-",
        help="CSV file to write (.tsv for tabs, .gz to compress); - is stdout",
    )
    recommend.set_defaults(run=_recommend.recommend)
    return parser


def _with_default_command(argv):
    """Prepend ``evaluate`` unless a command (or top-level help) is given."""
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version")):
        return argv
    return ["evaluate", *argv]


# The least value of each integer option (--n-examples 0 skips the examples).
_OPTION_MINIMUMS = {
    # A category of one product has no positive to train on, nor to split for testing.
    "min_class_size": 2, "n_components": 1, "max_iter": 1, "min_df": 1, "min_pair_count": 1,
    "n_recommendations": 1, "n_examples": 0, "label_depth": 1,
}


def _check_options(args):
    for name, least in _OPTION_MINIMUMS.items():
        value = getattr(args, name, None)
        if value is not None and value < least:
            raise CommandError(
                f"--{name.replace('_', '-')} must be at least {least}, got {value}"
            )
    min_npmi = getattr(args, "min_npmi", None)
    if min_npmi is not None and not -1 <= min_npmi <= 1:
        raise CommandError(f"--min-npmi must be between -1 and 1, got {min_npmi}")
    _check_label_options(args)
    test_size = getattr(args, "test_size", None)
    if test_size is not None and not 0 < test_size < 1:
        raise CommandError(f"--test-size must be between 0 and 1, got {test_size}")


def _check_label_options(args):
    separator = getattr(args, "label_separator", None)
    if separator is not None and not separator.strip():
        raise CommandError(
            f"--label-separator must hold a character besides whitespace, got {separator!r}"
        )
    if separator is not None and ">" in separator:
        raise CommandError(
            f"--label-separator {separator!r} would split category paths: it separates "
            "categories (',' for WooCommerce); --label-depth cuts paths"
        )
    for option in ("label_separator", "label_depth"):
        if getattr(args, option, None) is not None and getattr(args, "label_column", None) is None:
            raise CommandError(f"--{option.replace('_', '-')} needs --label-column")


def main(argv=None, prog="sk-prodembed"):
    """Run the command line; returns the exit status (0 on success)."""
    parser = build_parser(prog)
    args = parser.parse_args(_with_default_command(sys.argv[1:] if argv is None else list(argv)))
    progress = Progress(quiet=args.quiet)
    with warnings.catch_warnings():
        # A warning is one line too, not a source line with a file path.
        warnings.showwarning = _one_line_warning
        try:
            _check_options(args)
            return args.run(args, progress)
        except CommandError as error:
            if args.debug:
                raise
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            # The reader of stdout left (`... | head`): not an error of ours.
            # Point stdout at devnull so that Python's exit flush stays silent.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except KeyboardInterrupt:
            if args.debug:
                raise
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except Exception as error:
            if args.debug:
                raise
            message = " ".join(str(error).split())
            print(
                f"{prog}: error: {type(error).__name__}: {message} "
                "(run with --debug for the traceback)",
                file=sys.stderr,
            )
            return 1


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)
