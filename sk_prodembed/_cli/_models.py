"""The model file of the command line: TF-IDF -> embedder -> recommender over the
catalog, saved with skops (default), joblib or pickle, chosen by extension."""

import pickle
from pathlib import Path

from ._progress import CommandError

FORMATS = {".skops": "skops", ".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle"}
STEP_NAMES = ("tfidf", "embedder", "recommender")


def model_format(path):
    """The format of a model path; checked before any fitting starts."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CommandError(
            f"--model {path}: the name must end in {', '.join(FORMATS)} "
            "(skops is safe to load from others; joblib and pickle run code when loaded)"
        )
    return fmt


def check_writable(path, option):
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise CommandError(f"{option} {path}: the folder {parent} does not exist")


def import_skops(purpose):
    try:
        import skops.io
    except ImportError as error:
        raise CommandError(
            f"{purpose} needs skops: pip install 'sk_prodembed[cli]', "
            "or give a name ending in .joblib or .pkl"
        ) from error
    return skops.io


def save_model(model, path):
    fmt = model_format(path)
    if fmt == "skops":
        import_skops(f"saving {path}").dump(model, path)
    elif fmt == "joblib":
        import joblib

        joblib.dump(model, path)
    else:
        with open(path, "wb") as file:
            pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)


def load_model(path):
    """A model saved by ``fit``; skops files may hold only trusted types."""
    from sklearn.pipeline import Pipeline

    fmt = model_format(path)
    if not Path(path).is_file():
        raise CommandError(f"no such model file: {path}")
    if fmt == "skops":
        from .. import SKOPS_TRUSTED_TYPES

        sio = import_skops(f"loading {path}")
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as error:
            raise CommandError(f"{path} is not a skops file: {error}") from error
        # scikit-learn's own types are trusted by skops already; anything
        # besides them and this package's plain containers is refused.
        unexpected = sorted(set(untrusted) - set(SKOPS_TRUSTED_TYPES))
        if unexpected:
            raise CommandError(
                f"{path} holds types the command line does not trust: {', '.join(unexpected)}"
            )
        model = sio.load(path, trusted=untrusted)
    else:
        try:
            if fmt == "joblib":
                import joblib

                model = joblib.load(path)
            else:
                with open(path, "rb") as file:
                    model = pickle.load(file)
        except Exception as error:
            raise CommandError(f"cannot load {path} as {fmt}: {error}") from error
    if not isinstance(model, Pipeline) or tuple(model.named_steps) != STEP_NAMES:
        raise CommandError(f"{path} is not a model saved by the fit command")
    return model
