"""Reading the product tables shops export: CSV or TSV, compressed or not, any
separator, UTF-8 or Latin-1, Excel workbooks, and Parquet."""

import bz2
import csv
import gzip
import lzma
import zipfile
from pathlib import Path

from ._progress import CommandError, count

# First bytes of each compression pandas reads: the content decides, not the
# file name, so that a gzip file named .csv is read and not decoded as text.
_MAGIC_BYTES = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_PARQUET_MAGIC = b"PAR1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}
_SEPARATOR_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".psv": "|"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_SEPARATOR_NAMES = {",": "CSV", "\t": "TSV", ";": "semicolon-separated", "|": "pipe-separated"}
SEPARATOR_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
COMPRESSIONS = ("auto", "none", "gzip", "bz2", "xz", "zip", "zstd")
_SNIFF_BYTES = 1 << 16


def read_table(path, *, sep="auto", encoding="auto", compression="auto"):
    """The file as a DataFrame of strings (missing values NaN), and how it was read.

    Raises CommandError, with a message naming the option to change, on every
    input it cannot read.
    """
    path = check_file(path)
    with path.open("rb") as file:
        head = file.read(8)
    if not head:
        raise CommandError(f"{path} is empty")
    pandas = import_pandas(f"reading {path}")
    if head.startswith(_PARQUET_MAGIC) or path.suffix.lower() in _PARQUET_SUFFIXES:
        return _read_parquet(pandas, path), "Parquet"
    if path.suffix.lower() == ".xls":
        raise CommandError(
            f"{path} is an Excel 97-2003 workbook (.xls), which is not read: save it as "
            ".xlsx or CSV"
        )
    if path.suffix.lower() in _EXCEL_SUFFIXES or _is_excel_workbook(path, head):
        return _read_excel(pandas, path)

    detected = next((name for magic, name in _MAGIC_BYTES.items() if head.startswith(magic)), None)
    compression = _check_compression(path, compression, detected)
    if encoding == "auto" and not compression and head.startswith(_UTF16_BOMS):
        # Excel's "Unicode Text" export: UTF-16 with a byte-order mark.
        encoding = "utf-16"
    sep = _separator(path, sep, compression, encoding)
    read = dict(sep=sep, compression=compression, dtype=str, keep_default_na=True)
    if encoding == "auto":
        try:
            frame, encoding = _read_csv(pandas, path, read, "utf-8-sig"), "UTF-8"
        except UnicodeDecodeError:
            # Every byte is a Latin-1 character, so this never fails; it is the
            # usual encoding of older and Windows exports that are not UTF-8.
            frame = _read_csv(pandas, path, read, "latin-1")
            encoding = "Latin-1, as the file is not valid UTF-8"
    else:
        try:
            frame = _read_csv(pandas, path, read, encoding)
        except UnicodeDecodeError as error:
            hint = " (or cp1252)" if encoding.lower() != "latin-1" else ""
            raise CommandError(
                f"{path} is not valid {encoding}: byte 0x{error.object[error.start]:02x} at "
                f"position {error.start:,} of the text; pass --encoding latin-1{hint}, or "
                "--encoding auto to try UTF-8 then Latin-1"
            ) from error
    if len(frame) == 0:
        raise CommandError(
            f"{path} has a header ({count(frame.shape[1], 'column')}) but no rows"
        )
    name = _SEPARATOR_NAMES.get(sep, f"{sep!r}-separated")
    described = f"{compression}-compressed {name}" if compression else name
    return frame, f"{described}, {encoding}"


def check_file(path):
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}" if not path.exists() else f"not a file: {path}")
    return path


def _check_compression(path, requested, detected):
    if requested == "auto":
        return detected
    requested = None if requested == "none" else requested
    if requested != detected:
        actual = f"{detected}-compressed" if detected else "not compressed"
        raise CommandError(
            f"{path} is {actual}, but --compression {requested or 'none'} was given; "
            "drop --compression (the compression is detected from the file's first bytes)"
        )
    return requested


def _separator(path, sep, compression, encoding):
    if sep != "auto":
        return SEPARATOR_ALIASES.get(sep, sep)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in _SEPARATOR_SUFFIXES:
        return _SEPARATOR_SUFFIXES[suffixes[-1]]
    # Unknown extension (.txt, none): guess from the first lines.
    sample = _first_bytes(path, compression).decode(
        "latin-1" if encoding == "auto" else encoding, errors="replace"
    )
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _first_bytes(path, compression):
    if compression == "zip":
        with zipfile.ZipFile(path) as archive:
            with archive.open(archive.namelist()[0]) as file:
                return file.read(_SNIFF_BYTES)
    opener = {None: open, "gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression)
    if opener is None:  # zstd: needs the optional zstandard package; assume commas.
        return b","
    with opener(path, "rb") as file:
        return file.read(_SNIFF_BYTES)


def _read_csv(pandas, path, read, encoding):
    try:
        return pandas.read_csv(path, encoding=encoding, **read)
    except pandas.errors.EmptyDataError as error:
        raise CommandError(f"{path} is empty (no header line)") from error
    except pandas.errors.ParserError as error:
        message = str(error).strip().splitlines()[-1]
        raise CommandError(
            f"cannot read {path} with separator {read['sep']!r}: {message}; "
            "pass the right one with --sep"
        ) from error
    except LookupError as error:
        raise CommandError(f"unknown --encoding {encoding!r}") from error
    except ImportError as error:
        # pandas reads .zst through the optional zstandard package.
        if read.get("compression") != "zstd":
            raise
        raise CommandError(
            f"reading the zstd-compressed {path} needs zstandard: pip install zstandard "
            "(or decompress it first)"
        ) from error
    except ValueError as error:
        if "Multiple files" not in str(error):
            raise
        raise CommandError(
            f"the zip archive {path} holds more than one file; zip the catalog alone, "
            "or extract it"
        ) from error
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as error:
        raise CommandError(f"cannot read {path}: {error}") from error


def _read_parquet(pandas, path):
    try:
        frame = pandas.read_parquet(path)
    except ImportError as error:
        raise CommandError(
            f"reading Parquet ({path}) needs pyarrow: pip install pyarrow"
        ) from error
    if len(frame) == 0:
        raise CommandError(f"{path} has {count(frame.shape[1], 'column')} but no rows")
    # The same strings as from a CSV, with missing values kept missing.
    return frame.astype(str).where(frame.notna())


def _is_excel_workbook(path, head):
    """A zip file holding an Excel workbook, whatever its name."""
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _read_excel(pandas, path):
    """The first sheet of an Excel workbook, as strings (empty cells missing)."""
    try:
        workbook = pandas.ExcelFile(path, engine="openpyxl")
    except ImportError as error:
        raise CommandError(
            f"reading the Excel workbook {path} needs openpyxl: pip install 'sk_prodembed[cli]'"
        ) from error
    except Exception as error:
        raise CommandError(f"{path} is not a readable Excel workbook: {error}") from error
    with workbook:
        sheet, *others = workbook.sheet_names
        # Strings as from a CSV; empty cells stay missing.
        frame = workbook.parse(sheet, dtype=str)
    if len(frame) == 0:
        raise CommandError(
            f"the first sheet of {path} ({sheet!r}) has {count(frame.shape[1], 'column')} "
            "but no rows"
        )
    more = f"; {count(len(others), 'other sheet')} not read" if others else ""
    return frame, f"Excel, sheet {sheet!r}{more}"


def import_pandas(purpose):
    try:
        import pandas
    except ImportError as error:
        raise CommandError(
            f"{purpose} needs pandas: pip install 'sk_prodembed[cli]'"
        ) from error
    return pandas


def column(frame, name, path, option):
    """One column as a list of str, None for missing values."""
    if name not in frame.columns:
        available = ", ".join(map(str, frame.columns))
        hint = ""
        if frame.shape[1] == 1:
            # One column whose header holds another separator: the file was split wrongly.
            header = str(frame.columns[0])
            found = next((sep for sep in (";", "\t", "|", ",") if sep in header), None)
            if found is not None:
                shown = {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}[found]
                hint = f" (its header looks {_SEPARATOR_NAMES.get(found, found)}: pass --sep {shown})"
        raise CommandError(
            f"no column {name!r} ({option}) in {path}; its columns are: {available}{hint}"
        )
    values = frame[name]
    return [None if missing else str(value) for value, missing in zip(values, values.isna())]
