"""What the command lines share: data files, groups files, option parsing, errors.

``fmlearn`` (:mod:`fmlearn.cli`) and ``fmlearn libfm`` (:mod:`fmlearn.cli.libfm`) both
use these, so that a file is read, and an option value refused, the same way in both.
"""

from __future__ import annotations

import argparse
import os
import re
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fmlearn.io import text

FORMATS = ("libfm", "libsvm", "libffm", "csv", "table")
_SUFFIXES = {
    ".libfm": "libfm",
    ".fm": "libfm",
    ".libsvm": "libsvm",
    ".svm": "libsvm",
    ".svmlight": "libsvm",
    ".libffm": "libffm",
    ".ffm": "libffm",
    ".csv": "csv",
    ".tsv": "table",
}


class HelpFormatter(argparse.HelpFormatter):
    """Show each option's default unless its help already says it (or it has none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        # identity, not ==: a default of 0 (== False) is worth showing
        if "default" in text or any(action.default is d for d in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: {action.default})".strip()


class UsageError(Exception):
    """A bad option value found after parsing (exit code 2)."""


# ------------------------------------------------------------------------------- data
def check_output(path: str | None, what: str) -> None:
    """Fail now, naming ``path``, if ``what`` (e.g. "model file") cannot be written there:
    not after a training run of minutes, naming a temporary file."""
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a folder; give a file name.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: folder {folder} is not writable.")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write {what} {path}: the file is read-only.")


def check_rows(X, path: str) -> None:
    """An empty data file is a mistake to name, not a 0 × 0 matrix to train on."""
    if X.shape[0] == 0:
        raise UsageError(f"{path}: no data rows (the file is empty or has only comments).")


def guess_format(path: str | Path, given: str | None) -> str:
    """``given``, or the format named by the file's extension (``.gz`` etc. ignored)."""
    if given:
        return given
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() not in (".gz", ".bz2", ".xz")]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise UsageError(
        f"cannot tell the format of {path} from its name; pass --format ({', '.join(FORMATS)})."
    )


def read_data(path: str, fmt: str | None, n_features: int | None = None):
    """``(X, y)`` from a libFM / libSVM / libffm / CSV file (label in the first column).

    ``fmt=None`` takes the format from the file name. A libffm file's fields are dropped
    here (a plain FM has no use for them), so a feature written with two fields is no
    error: :func:`read_fields_data` is for the models that need fields.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    fmt = guess_format(path, fmt)
    if fmt == "table":
        raise UsageError(
            f"{path} is a table (named columns): a model trained on one (fmlearn train "
            "--format table, --header or --label) reads it by column names."
        )
    if fmt == "csv":
        return _read_csv(path, n_features)
    if fmt == "libffm":
        X, y, _fields = text.load_libffm(path, n_features=n_features, field_conflict="first")
    elif fmt == "libfm":
        X, y = text.load_libfm(path, n_features=n_features)
    else:
        X, y = text.load_libsvm(path, n_features=n_features)
    return X, y


def read_fields_data(
    path: str, fmt: str | None, n_features: int | None, field_conflict: str
) -> tuple:
    """``(X, y, fields)`` from a libffm file: the only format that names fields."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if guess_format(path, fmt) != "libffm":
        raise UsageError(
            f"--model-type ffm and fwfm need the field of every feature: {path} is not a libffm "
            "file (label field:index:value …); pass one, or --format libffm."
        )
    try:
        return text.load_libffm(path, n_features=n_features, field_conflict=field_conflict)
    except ValueError as exc:  # the loader's advice, in the command line's words
        message = str(exc).replace("field_conflict='first'", "--field-conflict first")
        raise ValueError(message) from None


def _read_csv(path: str, n_features: int | None):
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
    except ValueError as exc:
        raise ValueError(
            f"{path}: not a numeric CSV with the label first ({exc}). A table with a header "
            "row and named or text columns trains with --header (and --label COL, --sep)."
        ) from None
    X = sp.csr_matrix(table[:, 1:])
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{path}: has {X.shape[1]} feature columns, the model {n_features}.")
    return X, table[:, 0]


def add_table_options(parser, *, training: bool) -> None:
    """The options of a ``table`` file: a delimited text table with a header row."""
    parser.add_argument(
        "--sep", help="table: column separator (default: tab for .tsv, ',' otherwise)"
    )
    parser.add_argument(
        "--label",
        help="table: the label column's name" + (" (default: the first column)" if training
                                                  else " (default: the one column the model "
                                                  "does not read)"),
    )  # fmt: skip
    if training:
        parser.add_argument(
            "--header",
            action="store_true",
            help="the CSV's first line names its columns: read it as a table (as --format table)",
        )
        parser.add_argument(
            "--categorical",
            help="table: comma-separated columns to one-hot (default: text columns and integer "
            "columns named like ids; see FMEncoder)",
        )
        parser.add_argument(
            "--multi-valued",
            help="table: comma-separated columns holding sets like 'A|B' (default: found by "
            "FMEncoder)",
        )


def wants_table(args) -> bool:
    """Whether the training file is read as a table (header row, columns by name)."""
    fmt = args.format
    if fmt is None:
        try:
            fmt = guess_format(args.train, None)
        except UsageError:  # an unknown suffix: the reader says so, after checking the file
            fmt = None
    given = args.header or args.categorical or args.multi_valued or args.label or args.sep
    return fmt == "table" or (fmt in (None, "csv") and bool(given))


def read_table(path: str, sep: str | None):
    """A delimited text file with a header row as a pandas DataFrame."""
    from fmlearn._utils import import_optional

    pd = import_optional("pandas", extra="pandas", needed_by="reading a table (--format table)")
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if sep is None:
        sep = "\t" if ".tsv" in [s.lower() for s in Path(path).suffixes] else ","
    try:
        frame = pd.read_csv(path, sep=sep, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: no data rows (the file is empty).") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"{path}: not a table separated by {sep!r} ({detail}).") from None
    if frame.empty:
        raise UsageError(f"{path}: no data rows (a table needs a header line and rows).")
    return frame


def split_label(frame, label: str | None, path: str, keep=None):
    """``(features, y)``: ``label`` (by name), or else the first column — or, with
    ``keep`` (the columns a model reads), the one column it does not read, if any."""
    names = [str(c) for c in frame.columns]
    if label is None and keep is not None:
        extra = [c for c in names if c not in set(keep)]
        if not extra:
            return frame, None
        if len(extra) > 1:
            raise UsageError(
                f"{path}: columns {extra} are not the model's; name the label with --label."
            )
        label = extra[0]
    if label is None:
        label = names[0]
    if label not in names:
        raise UsageError(f"{path}: no column {label!r} for --label; it has {names}.")
    column = frame.columns[names.index(label)]
    return frame.drop(columns=[column]), frame[column].to_numpy()


def write_data(path: str, fmt: str, X, y) -> None:
    if fmt == "table":
        raise UsageError("convert writes libfm, libsvm or csv files; not tables.")
    if fmt == "csv":
        table = np.column_stack([y, X.toarray()])
        np.savetxt(path, table, delimiter=",", fmt="%.17g")
        return
    if fmt == "libffm":
        raise UsageError("writing libffm needs field ids; convert from a libffm file instead.")
    dump = text.dump_libfm if fmt == "libfm" else text.dump_libsvm
    dump(X, y, path)


def read_groups(path: str, n_features: int) -> np.ndarray:
    """libFM's ``-meta`` file: one group id per line, one line per feature."""
    try:
        with warnings.catch_warnings():  # an empty file (no features) is no mistake
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            groups = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except ValueError as exc:
        raise ValueError(f"{path}: a groups file holds one integer per line ({exc}).") from None
    if groups.shape[0] != n_features:
        raise ValueError(
            f"{path}: {groups.shape[0]} group ids for {n_features} features (one per line)."
        )
    return groups


def parse_regularization(text_: str | None, flag: str, n_groups: int | None = None) -> dict | None:
    """``"r0,r1,r2"`` or ``"r"`` (libFM's ``-regular``) as the three ``reg_*`` parameters;
    with ``n_groups`` (ALS with ``-meta``) also libFM's per-group form ``r0`` then one
    ``r1`` per group then one ``r2`` per group (1 + 2·G numbers), as lists."""
    if text_ is None:
        return None
    example = f"{flag} takes 1 or 3 numbers like 0,0,0.1 (r0,r1,r2, or one r for all)"
    if n_groups is not None:
        example += f", or 1 + 2×{n_groups} for the -meta groups (r0, r1 per group, r2 per group)"
    try:
        values = [float(v) for v in text_.split(",")]
    except ValueError:
        raise UsageError(f"{example}; got {text_!r}.") from None
    if len(values) == 1:
        values = values * 3
    if n_groups is not None and len(values) == 1 + 2 * n_groups and len(values) != 3:
        return {
            "reg_bias": values[0],
            "reg_linear": values[1 : 1 + n_groups],
            "reg_factors": values[1 + n_groups :],
        }
    if len(values) != 3:
        more = ""
        if len(values) > 3 and n_groups is None:
            more = " (per-group values: with -method als and -meta)"
        raise UsageError(f"{example}{more}; got {text_!r}.")
    return dict(zip(("reg_bias", "reg_linear", "reg_factors"), values, strict=True))


def read_interactions(path: str, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    """Implicit feedback as a users × items CSR matrix from lines ``user item [value]``.

    Ids are 0-based integers; fields are separated by whitespace, or by commas in a
    ``.csv`` file; ``#`` starts a comment. Without ``shape`` the matrix is (largest user
    id + 1) × (largest item id + 1). A repeated pair adds its values (or counts).
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    delimiter = "," if Path(path).suffix.lower() == ".csv" else None
    try:
        table = np.loadtxt(path, delimiter=delimiter, ndmin=2, comments="#")
    except ValueError as exc:
        row = re.search(r"at row (\d+)", str(exc))
        where = f"line {_file_line(path, int(row.group(1)))}: " if row else ""
        raise ValueError(
            f"{path}: {where}an interactions file holds lines 'user item [value]' ({exc})."
        ) from None
    if table.shape[0] == 0:
        raise ValueError(f"{path}: no interaction in the file.")
    if table.shape[1] not in (2, 3):
        raise ValueError(
            f"{path}: lines must be 'user item [value]'; found {table.shape[1]} columns."
        )
    ids = table[:, :2]
    bad = np.flatnonzero(~np.isfinite(ids).all(axis=1) | (ids < 0).any(axis=1)
                         | (ids != np.floor(ids)).any(axis=1))  # fmt: skip
    if bad.size:
        raise ValueError(
            f"{path}: line {_file_line(path, bad[0])}: user and item must be ids ≥ 0; got "
            f"{table[bad[0], 0]:g} {table[bad[0], 1]:g}."
        )
    users, items = ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64)
    values = table[:, 2] if table.shape[1] == 3 else np.ones(table.shape[0])
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise ValueError(
            f"{path}: line {_file_line(path, bad[0])}: the value must be a number ≥ 0; got "
            f"{values[bad[0]]:g}."
        )
    if shape is None:
        shape = (int(users.max()) + 1, int(items.max()) + 1)
    outside = np.flatnonzero((users >= shape[0]) | (items >= shape[1]))
    if outside.size:
        j = outside[0]
        raise ValueError(
            f"{path}: line {_file_line(path, j)}: user {users[j]} / item {items[j]} outside "
            f"the model's {shape[0]} users × {shape[1]} items."
        )
    R = sp.csr_matrix((values, (users, items)), shape=shape)
    R.sum_duplicates()
    return R


def _file_line(path: str, data_row: int) -> int:
    """The file line (from 1) of data row ``data_row`` (from 0): blank and comment lines are
    not data rows. Only called to word an error, so reading the file again is fine."""
    seen = -1
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if line.split("#", 1)[0].strip():
                seen += 1
                if seen == data_row:
                    return number
    return seen + 1
