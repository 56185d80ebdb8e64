"""Shared pieces of the train / evaluate / embed / demo commands: errors, options, classes
(their data, image files and tables: ``_eval_data``, ``_image_files``, ``_metric_tables``)."""

from __future__ import annotations

import contextlib
import functools
import math
import sqlite3
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from siamkit.clauses import in_number, listed

if TYPE_CHECKING:
    from torch import Tensor

F = TypeVar("F", bound=Callable[..., Any])

#: The built-in data sets and their image shape (C, H, W); their images are not resized.
BUILTIN_SHAPES: dict[str, tuple[int, int, int]] = {
    "fashion-mnist": (1, 28, 28),
    "digits": (1, 8, 8),
}
DATASET_NAMES = tuple(BUILTIN_SHAPES)
#: ``--index`` of ``siamkit gallery`` and ``siamkit serve``: the index registry's names
#: (:data:`siamkit.index.factory.INDEXES`), written out so ``--help`` needs no torch import;
#: tests/cli/test_registry_names.py checks they are the registry's.
INDEX_CHOICES = ("exact", "faiss-flat", "faiss-ivf", "faiss-hnsw", "lsh")


@contextlib.contextmanager
def data_warnings_as_lines() -> Iterator[None]:
    """The library's warning about the user's data (class folders that hold no images:
    :class:`~siamkit.data.folders.EmptyFoldersWarning`; a saved tracker's crop size read as
    another: :class:`~siamkit.applications.tracking.params.OffGridSizeWarning`) as one
    ``warning: ...`` line on stderr,
    said by the first process of a torchrun launch alone, not Python's ``FILE:LINE: Category:``
    and a line of siamkit's source, and once: ``siamkit tune`` loads the data of each data
    config its space checks (data.limit: [null, 50, ...]), and each load of one folder said its
    warnings again, five times over for five values. Other warnings are shown as Python shows
    them."""
    said: set[str] = set()  # a repeat is the same fact again (its text names the file)
    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message: Any, category: Any, *where: Any, **kw: Any) -> None:
            # the modules are loaded once they have warned; not imported here (torch)
            folders = sys.modules.get("siamkit.data.folders")
            sizes = sys.modules.get("siamkit.applications.tracking.params")
            ours = (folders is not None and issubclass(category, folders.EmptyFoldersWarning)) or (
                sizes is not None and issubclass(category, sizes.OffGridSizeWarning)
            )
            if not ours:
                show(message, category, *where, **kw)
            else:
                from siamkit.distributed import is_main_process  # torch: loaded by then

                if is_main_process() and str(message) not in said:
                    said.add(str(message))
                    click.echo(f"warning: {message}", err=True)

        warnings.showwarning = one_line
        yield


def friendly_errors(fn: F) -> F:
    """Turn a user's mistake (missing file, bad config key, wrong image size) into ``Error: ...``;
    so too a training loss that became NaN (its ``FloatingPointError`` says what to lower). A
    warning about the data is one ``warning: ...`` line (:func:`data_warnings_as_lines`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with data_warnings_as_lines():
                return fn(*args, **kwargs)
        except (FileNotFoundError, ValueError, TypeError, ImportError, FloatingPointError) as err:
            raise click.ClickException(str(err).strip() or type(err).__name__) from None

    return wrapper  # type: ignore[return-value]


def store_errors(what: str) -> Callable[[F], F]:
    """Like :func:`friendly_errors` for commands that open a store: a user's mistake (missing
    file, unreadable image, unknown label, another model) or a store SQLite cannot use becomes one
    ``Error: ...`` sentence naming ``what`` ("gallery", "bank"), never a traceback."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (FileNotFoundError, ValueError, LookupError, TypeError, ImportError) as err:
                message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
                raise click.ClickException(str(message).strip() or type(err).__name__) from None
            except (sqlite3.Error, PermissionError) as err:
                full = getattr(err, "sqlite_errorname", None) == "SQLITE_FULL"
                fix = "; free some space on its disk and run it again" if full else ""
                raise click.ClickException(f"the {what} file cannot be used: {err}{fix}") from None

        return wrapper  # type: ignore[return-value]

    return decorate


@contextlib.contextmanager
def photos_named(
    paths: Sequence[Any], words: Sequence[str] | None = None, start: int = 0
) -> Iterator[None]:
    """Around embedding the photos of ``paths[start:]`` with a face model: a photo without a
    face is named by its file (``'blank.png' (the second photo)``, ``'b.png' (photo 2 of 5)``),
    not as "image 1 of 1" of the call that embedded it (:func:`name_the_photo`, as the
    service names an upload). ``words``: how to call each photo, default ``photo i of n``."""
    try:
        yield
    except ValueError as err:
        from siamkit.applications.faces.errors import NoFaceError, name_the_photo

        if not isinstance(err, NoFaceError) or err.index is None:
            raise
        n = len(paths)
        says = list(words) if words is not None else [f"photo {i + 1} of {n}" for i in range(n)]
        names = [f"{str(p)!r} ({w})" if n > 1 else repr(str(p)) for p, w in zip(paths, says)]
        named = name_the_photo(NoFaceError(str(err), err.index + start), names)
        if named is None:
            raise
        raise named from None


def text_model_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: a folder that exists, or a named pretrained text model's folder
    (:mod:`siamkit.encoders.text_zoo`, assembled from its packages the first time). A folder
    named as a model keeps its ``./`` (:func:`~siamkit.text_names.shown_folder`):
    ``str(Path("./all-MiniLM-L6-v2"))`` is the bundled model's name, which the refusal named."""
    if value is None:
        return None
    from siamkit.encoders.text_zoo import resolve_text_model
    from siamkit.text_names import is_text_model_name, shown_folder

    try:
        folder = resolve_text_model(value)
    except ValueError as e:  # a named model whose packages are missing or damaged
        raise click.BadParameter(str(e), ctx, param) from None
    given = str(folder) if is_text_model_name(value) else shown_folder(value)
    return str(click.Path(exists=True, file_okay=False).convert(given, param, ctx))


def runtime_device(device: str, runtime: str, verb: str = "runs") -> Any:
    """``--device`` for a command with ``--runtime``, checked before any model is read: the torch
    device it names (``auto``: CUDA if there is one), or ``None`` with an ONNX runtime, which
    runs on the CPU (``auto`` and ``cpu`` are fine there; a GPU named is refused, not ignored)."""
    from siamkit.training.ddp import resolve_device

    if runtime != "torch":
        if device not in ("auto", "cpu"):
            raise click.UsageError(
                f"--runtime {runtime} {verb} on the CPU: drop --device {device}, or use "
                "--runtime torch to run on the GPU"
            )
        return None
    return resolve_device(device)


def check_input(net: Any, x: Tensor) -> None:
    """Raise a clear ``ValueError`` if images of this shape / channel count do not fit the model."""
    import torch

    first = x[:1].float() / 255.0 if x.dtype == torch.uint8 else x[:1]
    net.preprocess.check(first)


def parse_classes(text: str | None, option: str | None = None) -> tuple[int, ...] | None:
    """``"0,1,2"`` -> ``(0, 1, 2)``; ``None`` stays ``None``; errors name ``option``."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of class numbers", param_hint=option
        ) from None
    if not values:
        raise click.BadParameter("give at least one class number, e.g. 0,1,2", param_hint=option)
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:  # was refused only after the data loaded, as the config's "train_classes"
        raise click.BadParameter(
            f"{text!r} names class {', '.join(map(str, twice))} twice; give each class once",
            param_hint=option,
        )
    return values


def class_tokens(text: str | None) -> tuple[str, ...] | None:
    """``"0, shirt,2"`` -> ``("0", "shirt", "2")``: class names or numbers, resolved later."""
    if text is None:
        return None
    tokens = tuple(t.strip() for t in text.split(",") if t.strip())
    if not tokens:
        raise click.BadParameter("give at least one class name or number, e.g. 0,1,2")
    return tokens


def class_label(index: int, name: str) -> str:
    """``"6 shirt"`` for a named class, ``"6"`` for a class whose name is its number (digits):
    listed once, not ``"6 6"``."""
    return str(index) if name == str(index) else f"{index} {name}"


def resolve_classes(tokens: Sequence[str], names: Sequence[str], option: str) -> tuple[int, ...]:
    """Class indices of ``tokens``: each a class name of ``names`` or an index into it."""
    out: list[int] = []
    for t in tokens:
        if t in names:
            out.append(list(names).index(t))
        elif t.isdigit() and int(t) < len(names):
            out.append(int(t))
        else:
            listed = ", ".join(class_label(i, n) for i, n in enumerate(names))
            raise ValueError(f"{option} {t!r} is not one of the classes here: {listed}")
    seen: dict[int, str] = {}
    for t, c in zip(tokens, out):
        if c in seen:  # "6,6,7" or "0,shirt" silently ran a smaller N-way evaluation
            shown = str(c) if names[c] == str(c) else f"{c} ({names[c]})"
            raise ValueError(
                f"{option} names class {shown} twice ({seen[c]!r} and {t!r}); give each class once"
            )
        seen[c] = t
    return tuple(out)


def model_image_shape(net: Any, where: str) -> tuple[int, int, int]:
    """The ``(C, H, W)`` images the model takes; a message with the line to write if unknown."""
    from siamkit.encoders.text import generic_text_model_refusal, reads_text_tower
    from siamkit.model_protocol import as_embedding_model
    from siamkit.models.preprocess import missing_input_shape_message

    if getattr(net, "input_kind", None) == "text":  # no shape to record: it takes strings
        raise ValueError(
            f"{where} is a text model: it embeds texts, not images; use `siamkit text ...` "
            "or `siamkit serve` with it"
        )
    if reads_text_tower(net):  # it recorded no shape, but one would not help it (a half-twin: f)
        raise ValueError(generic_text_model_refusal(where, net))
    shape = as_embedding_model(net).input_shape
    if shape is None:
        raise ValueError(missing_input_shape_message(where))
    if len(shape) != 3:
        raise ValueError(
            f"{where} takes feature vectors of {shape[0]} values, not images; embed and enroll "
            "them with the Python API (net.embed, Gallery.enroll_embeddings)"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def _turn_off_progress(ctx: click.Context, param: click.Parameter, show: bool) -> bool:
    """``--no-progress``: no bar or progress line from any step of the command."""
    if not show:
        from siamkit.progress import set_enabled

        set_enabled(False)
    return show


def progress_option(what: str = "", expose_value: bool = False) -> Callable[[F], F]:
    """``--progress/--no-progress`` of a command that shows progress (siamkit's CLI turns
    progress on for the process; ``--no-progress`` turns it off before the command runs, every
    step's: training, evaluation, embedding). ``what`` ends the help (`` (training and
    evaluation)``); ``expose_value`` passes the choice on as ``progress``."""
    return click.option(
        "--progress/--no-progress",
        default=True,
        show_default=True,
        expose_value=expose_value,
        callback=_turn_off_progress,
        help=f"Show progress: bars on a terminal, a few lines in a log{what}.",
    )


PROGRESS = progress_option()


def refuse_existing(paths: Iterable[Path], force: bool, instead: str) -> None:
    """A usage error naming the outputs among ``paths`` that exist, unless ``force``: "A and B
    already exist; pass --force to replace, {instead}" (before any work is done)."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise click.UsageError(
            f"{listed(existing)} already {'exists' if len(existing) == 1 else 'exist'}; "
            f"pass --force to replace, {instead}"
        )


def given_on_command_line(ctx: click.Context, name: str) -> bool:
    """Whether the option ``name`` (its parameter name) was given on the command line, not left
    at its default or taken from the environment."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def options_given(ctx: click.Context, names: Iterable[str]) -> list[str]:
    """The options among ``names`` given on the command line, as flags (``data_dir`` ->
    ``--data-dir``), in the order of ``names``."""
    return [f"--{n.replace('_', '-')}" for n in names if given_on_command_line(ctx, n)]


def refuse_given(ctx: click.Context, names: Iterable[str], purpose: str) -> None:
    """A usage error naming the options among ``names`` given on the command line, which this
    call would ignore: "--a and --b are {purpose}: leave them out"."""
    given = options_given(ctx, names)
    if not given:
        return
    one = len(given) == 1
    flags = listed(given)
    raise click.UsageError(
        f"{flags} {in_number(len(given), 'is', 'are')} {purpose}: leave {'it' if one else 'them'} out"
    )


def refuse_fashion_mnist_options(ctx: click.Context, data: str) -> None:
    """A usage error for --split / --data-dir given on the command line with ``--data`` a folder
    or digits (only Fashion-MNIST has splits and files to find): they were ignored."""
    if data != "fashion-mnist":
        refuse_given(
            ctx,
            ("split", "data_dir"),
            "for --data fashion-mnist (digits have no test split; a folder is read as it is)",
        )


class DataFolder(click.Path):
    """A data set's folder a command is given: ``click.Path(exists=True, file_okay=False)``,
    whose stat failing otherwise than "not there" (an I/O error, no access on the way) is
    refused with the OS's reason, in the sentence the walk of that folder says
    (:func:`~siamkit.data.folders.is_folder`): click's own check, run before the command,
    said "Directory 'X' does not exist." of a folder whose stat failed with EIO (s63_m4)."""

    def __init__(self) -> None:
        super().__init__(exists=True, file_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from siamkit.data.folders import is_folder

        try:
            is_folder(value)
        except ValueError as err:  # an UnreadableFolderError, a path no file system takes
            raise click.ClickException(str(err)) from None
        return super().convert(value, param, ctx)


class DistanceThreshold(click.ParamType):
    """A ``--threshold`` on a distance: a finite number >= 0 (NaN, infinity and negative values
    would accept everything or nothing); used by every command with a distance ``--threshold``.
    ``signed``: the command may load a score-normalised model, whose scores (z-scores) and own
    calibrated threshold may be negative, so any finite number is taken here and a negative one
    is checked against the model once it is loaded (:func:`check_threshold_sign`)."""

    name = "float"

    def __init__(self, signed: bool = False) -> None:
        self.signed = signed

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(
                f"{value!r} is not a number; give a distance threshold such as 0.6.", param, ctx
            )
        if not math.isfinite(number) or (number < 0 and not self.signed):
            self.fail(
                f"{value} is not a distance threshold; give a finite number of at least 0.",
                param,
                ctx,
            )
        return number


def check_threshold_sign(threshold: float | None, net: Any) -> None:
    """Refuse a negative ``--threshold`` (taken by ``DistanceThreshold(signed=True)``) for a
    model that is not score-normalised: its distances are >= 0, so it would accept no pair. The
    same rule as the model's own threshold (``bundle._check_threshold``)."""
    if threshold is not None and threshold < 0 and getattr(net, "score_norm", None) is None:
        raise click.BadParameter(
            f"{threshold:g} is below 0, and this model's distances are >= 0, so it would accept "
            "no pair; give a finite number of at least 0 (only a score-normalised model's "
            "threshold is negative).",
            param_hint="'--threshold'",
        )


class OnceOption(click.Option):
    """An option of one value that refuses being given more than once (click keeps the last
    value without a word): ``@click.option("--label", cls=OnceOption, ...)``. Its value is the
    one given, or ``default`` (``None`` unless set) when it is not given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.single_default = kwargs.pop("default", None)
        kwargs["multiple"] = True  # every value reaches process_value, to be counted
        super().__init__(*args, **kwargs)

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        values = super().process_value(ctx, value)
        if len(values) > 1:
            raise click.UsageError(
                f"{self.opts[0]} was given {len(values)} times ({', '.join(map(str, values))}); "
                "give it once",
                ctx,
            )
        return values[0] if values else self.single_default
