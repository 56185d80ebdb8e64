"""Shared pieces of the train / evaluate / embed / demo commands: errors, data, tables, files."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sqlite3
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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
    :class:`~siamkit.data.folders.EmptyFoldersWarning`) as one ``warning: ...`` line on stderr,
    said by the first process of a torchrun launch alone, not Python's ``FILE:LINE: Category:``
    and a line of siamkit's source. Other warnings are shown as Python shows them."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message: Any, category: Any, *where: Any, **kw: Any) -> None:
            # the module is loaded once it has warned; not imported here (it imports torch)
            folders = sys.modules.get("siamkit.data.folders")
            if folders is None or not issubclass(category, folders.EmptyFoldersWarning):
                show(message, category, *where, **kw)
            elif os.environ.get("RANK", "0") == "0":
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
                raise click.ClickException(f"the {what} file cannot be used: {err}") from None

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
    (:mod:`siamkit.encoders.text_zoo`, assembled from its packages the first time)."""
    if value is None:
        return None
    from siamkit.encoders.text_zoo import resolve_text_model

    try:
        folder = resolve_text_model(value)
    except ValueError as e:  # a named model whose packages are missing or damaged
        raise click.BadParameter(str(e), ctx, param) from None
    return str(click.Path(exists=True, file_okay=False).convert(str(folder), param, ctx))


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
    from siamkit.model_protocol import as_embedding_model
    from siamkit.models.preprocess import missing_input_shape_message

    if getattr(net, "input_kind", None) == "text":  # no shape to record: it takes strings
        raise ValueError(
            f"{where} is a text model: it embeds texts, not images; use `siamkit text ...` "
            "or `siamkit serve` with it"
        )
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
            f"{' and '.join(existing)} already {'exists' if len(existing) == 1 else 'exist'}; "
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
    flags = given[0] if one else f"{', '.join(given[:-1])} and {given[-1]}"
    raise click.UsageError(
        f"{flags} {'is' if one else 'are'} {purpose}: leave {'it' if one else 'them'} out"
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


@dataclass(frozen=True)
class EvalData:
    """Images ``(N, C, H, W)``, labels ``(N,)`` (indices into ``names``) and where they came from."""

    x: Tensor
    y: Tensor
    names: tuple[str, ...]
    chosen: tuple[int, ...]
    source: str

    def describe(self) -> str:
        """``"400 images of 4 classes (shirt, sneaker, bag, ankle boot) from ..."``."""
        shown = ", ".join(self.names[c] for c in self.chosen)
        return f"{len(self.y):,} images of {len(self.chosen)} classes ({shown}) from {self.source}"


def _refuse_signature_corpus(data: str, folder: Path) -> None:
    """A signature model given a signature corpus as a class folder would count its forgeries
    as genuine signatures (of their writer's class, or a class of their own in CEDAR's layout)."""
    from siamkit.data.signature_layouts import detect_layout

    try:
        layout = detect_layout(folder)
    except ValueError:
        return
    raise ValueError(
        f"--data {data} is a signature corpus ({layout} layout), whose forgeries a class folder "
        f"would count as genuine signatures: evaluate it with --data signatures:{data}"
    )


def load_eval_data(
    data: str,
    model_meta: dict[str, Any],
    classes: Sequence[str] | None,
    split: str,
    data_dir: str | None,
    shape: tuple[int, int, int],
    default: str = "test",
    option: str = "--data",
) -> EvalData:
    """Images and labels to evaluate (or calibrate) a model on.

    ``data`` is a built-in name or an image folder (one sub-folder per class). ``classes`` are
    names or numbers. For built-in data the default classes are the model's ``default`` classes
    from its metadata (``"test"``: those it did not train on; ``"train"``: those it did), else
    6-9 for ``"test"``; a folder gives all its sub-folders, except that ``"test"`` on the folder
    the model trained on gives the classes it did not train on (as its metadata records them),
    or, for a run on every class (``data.train_classes: null``), the images it held out.
    ``option`` is the command's name for ``data`` in its messages (export's ``--check-data``).
    """
    if data not in DATASET_NAMES:
        from siamkit.data.folders import ImageFolderDataset

        folder = Path(data)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"--data {data}: no such dataset name or folder (names: {', '.join(DATASET_NAMES)})"
            )
        if "signatures" in model_meta:
            _refuse_signature_corpus(data, folder)
        _refuse_unlabeled_folder(data, folder, model_meta, shape, option)
        ds = ImageFolderDataset(folder, shape)
        names = tuple(ds.classes)
        source = f"the folder {folder}"
        own = _own_folder_classes(folder, names, model_meta) if default == "test" else None
        if classes:
            chosen = resolve_classes(classes, names, "--classes")
        elif own is not None:  # the model's own training folder: its unseen classes, as built-ins
            chosen, source = own, f"{source} (the classes the model did not train on)"
        else:
            chosen = tuple(range(len(names)))
        paths = [p for p, _ in ds.samples]
        x, y = read_image_files(paths, shape, folder=f"{option} {data}"), torch_labels(ds.samples)
        if own is not None and not classes and _trained_on_every_class(model_meta):
            # data.train_classes: null: no class is unseen; the test set is the images the run
            # held out of training (as `siamkit train` evaluated), not every image it trained on
            from siamkit.training.data import held_out_test_images

            held = held_out_test_images(y)
            x, y = x[held], y[held]
            source = f"the folder {folder} (the images the model held out of training)"
        return EvalData(*_subset(x, y, chosen), names, chosen, source)
    run = model_meta.get("run", {})
    if data == "fashion-mnist":
        from siamkit.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

        x, y = load_fashion_mnist(split, root=data_dir)
        x, names = x.unsqueeze(1), tuple(FASHION_MNIST_CLASSES)
    else:
        from siamkit.data.builtin import load_digits_dataset

        x, y = load_digits_dataset()
        names = tuple(str(i) for i in range(10))
    if x.shape[1] != shape[0] or tuple(x.shape[2:]) != tuple(shape[1:]):
        # built-in images are not resized: name the data the model trained on
        own, trained_in = run.get("dataset"), training_folder(model_meta)[0]
        if own in DATASET_NAMES and own != data:
            hint = f"it trained on {own}: use --data {own}"
        elif trained_in is not None and (
            _learned_without_labels(model_meta) or _unlabeled(Path(trained_in))
        ):
            # an ssl run's folder (sub-folders of photos too): it has no classes to evaluate on
            hint = (
                f"it learned from the folder {trained_in} without labels, and evaluation needs "
                f"classes: {_labeled_data_hint(shape, data)}"
            )
        elif trained_in is not None:
            hint = f"it trained on the folder {trained_in}: use --data {trained_in}"
        else:
            hint = "give an image folder (--data DIR), whose images are resized to the model's size"
        if x.shape[1] != shape[0]:
            raise ValueError(
                f"--data {data} holds grayscale images and this model takes {shape[0]}-channel "
                f"ones; {hint}"
            )
        raise ValueError(
            f"--data {data} holds {x.shape[2]}x{x.shape[3]} images and this model takes "
            f"{shape[1]}x{shape[2]} ones; {hint}"
        )
    if classes:
        chosen = resolve_classes(classes, names, "--classes")
    elif run.get("dataset") == data and run.get(f"{default}_classes"):
        chosen = tuple(run[f"{default}_classes"])
    elif default == "test":
        chosen = (6, 7, 8, 9)
    else:
        raise ValueError(
            f"name the classes the model trained on with --classes (e.g. 0,1,2,3,4,5): this model "
            f"does not record its {data} training classes"
        )
    # digits are one set of images (no test split): naming one would pass training images as held out
    source = (
        f"{data} ({split} split)"
        if data == "fashion-mnist"
        else f"{data} (one set of images, no test split)"
    )
    return EvalData(*_subset(x, y, chosen), names, chosen, source)


def _unlabeled(folder: Path) -> bool:
    """``folder`` holds images and no class sub-folders (what ``task: ssl`` learns from)."""
    from siamkit.data.folders import loose_images

    return bool(loose_images(folder))


def _learned_without_labels(model_meta: dict[str, Any]) -> bool:
    """The model's run never saw a label (``task: ssl``): the folder it read may hold
    sub-folders (a nested folder of photos), yet they are not classes."""
    return (model_meta.get("run") or {}).get("labels_used") is False


def _labeled_data_hint(shape: tuple[int, int, int], data: str, option: str = "--data") -> str:
    """What to give instead of images without classes: a folder of class sub-folders, or a
    built-in data set of the model's input shape (built-in images are not resized)."""
    fits = [n for n, s in BUILTIN_SHAPES.items() if s == tuple(shape) and n != data]
    builtin = f", or {option} {' or '.join(fits)}" if fits else ""
    return (
        f"give a folder with one sub-folder of images per class ({option} DIR, e.g. DIR/cat/1.png, "
        f"DIR/dog/2.png; its images are resized to the model's size){builtin}"
    )


def _refuse_unlabeled_folder(
    data: str,
    folder: Path,
    model_meta: dict[str, Any],
    shape: tuple[int, int, int],
    option: str = "--data",
) -> None:
    """A folder of loose images (no class sub-folders) has no classes to evaluate on; say so,
    and that the model learned from it without labels when it is the folder it trained on (so
    too when that folder holds photos beside sub-folders of more photos: not a class layout)."""
    from siamkit.data.folders import list_images

    trained_in = training_folder(model_meta)[0]
    own = trained_in is not None and Path(trained_in).resolve() == folder.resolve()
    if _unlabeled(folder):
        layout = "images and no class sub-folders"
    elif own and folder.is_dir() and _learned_without_labels(model_meta) and list_images(folder):
        layout = "images beside its sub-folders, not one sub-folder per class"
    else:
        return
    learned = " (the model learned from them without labels)" if own else ""
    raise ValueError(
        f"{option} {data} holds {layout}{learned}, so it has no classes to measure with: "
        f"{_labeled_data_hint(shape, data, option)}"
    )


def training_folder(model_meta: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    """The image folder a run trained the model on and its training classes (sub-folder
    names), as its metadata records them; ``(None, None)`` for a model not trained on one."""
    run = model_meta.get("run") or {}
    data = (model_meta.get("config") or {}).get("data") or {}
    if run.get("dataset", data.get("dataset")) != "image-folder":
        return None, None
    # the absolute root the run recorded; a model saved before it recorded one has only the
    # config's, relative to the folder the run was started in
    root = run.get("data_root") or data.get("root")
    if not root:
        return None, None
    names, train = model_meta.get("class_names") or [], run.get("train_classes")
    if not train or not all(isinstance(c, int) and 0 <= c < len(names) for c in train):
        return str(root), None
    return str(root), [str(names[c]) for c in train]


def _own_folder_classes(
    folder: Path, names: tuple[str, ...], model_meta: dict[str, Any]
) -> tuple[int, ...] | None:
    """The test classes of a model trained on ``folder`` itself (same path, same class list),
    from its metadata; ``None`` for any other folder or a model that does not record them."""
    data = model_meta.get("config", {}).get("data", {})
    run = model_meta.get("run", {})
    test = run.get("test_classes")
    # the absolute root the run recorded; a model saved before it recorded one has only the
    # config's, relative to the folder the run was started in
    own = data.get("dataset") == "image-folder"
    root = (run.get("data_root") or data.get("root")) if own else None
    if not root or not test or tuple(model_meta.get("class_names", ())) != names:
        return None
    if Path(root).resolve() != folder.resolve():
        return None
    return tuple(int(c) for c in test)


def _trained_on_every_class(model_meta: dict[str, Any]) -> bool:
    """The run trained on every class of its folder (``data.train_classes: null``): its test
    set was a held-out share of each class's images, not unseen classes."""
    data = model_meta.get("config", {}).get("data", {})
    return "train_classes" in data and data["train_classes"] is None


def torch_labels(samples: Sequence[tuple[Any, int]]) -> Tensor:
    """``(N,)`` int64 labels of ``(path, label)`` samples."""
    import torch

    return torch.tensor([label for _, label in samples], dtype=torch.int64)


def read_image_files(
    paths: Sequence[Any], shape: Sequence[int], folder: str | None = None
) -> Tensor:
    """``(N, C, H, W)`` images in ``[0, 1]`` read from files, with progress for long lists.

    Every file is read before any unreadable one is refused, in one sentence naming each
    (:func:`read_each_image`), not as item i of a chunk of the list. ``folder``: the option and
    folder the paths were found in (``"--data photos/"``), which the sentence names
    (:func:`~siamkit.data.image_io.load_images`); without it, the images given (files named and
    files found in the folders named, as ``siamkit embed`` and ``siamkit enroll`` take them)."""
    import torch

    from siamkit.data.image_io import load_images, read_image, resize_images

    if not paths:
        raise ValueError("no image files to read")
    if folder is not None:
        return load_images(list(paths), shape, folder=folder)
    c, h, w = (int(s) for s in shape)
    read = lambda p: resize_images(read_image(p, channels=c).unsqueeze(0), (h, w))[0]  # noqa: E731
    return torch.stack(read_each_image(paths, read))


def read_each_image(paths: Sequence[Any], read: Callable[[Any], T]) -> list[T]:
    """``read(path)`` of every path, with progress; then an unreadable file is refused in its
    own sentence, and several in one sentence naming each, so that a folder holding two bad
    files is not refused once for each (nothing is written before: the caller reads first)."""
    from siamkit.data.image_io import ImageReadError, unreadable_list
    from siamkit.progress import track

    out: list[T] = []
    bad: list[tuple[str, ImageReadError]] = []
    for path in track(list(paths), "reading images", unit="images"):
        try:
            out.append(read(path))
        except ImageReadError as err:
            bad.append((os.fspath(path), err))
    if len(bad) == 1:
        raise bad[0][1]
    if bad:
        raise ImageReadError(
            f"{len(bad):,} of the {len(paths):,} images given cannot be read, "
            f"{unreadable_list(bad)}: remove or fix them"
        )
    return out


def _subset(x: Tensor, y: Tensor, classes: Sequence[int]) -> tuple[Tensor, Tensor]:
    import torch

    mask = torch.isin(y, torch.tensor(list(classes), dtype=y.dtype))
    return x[mask], y[mask]


def collect_images(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Image files named directly or found (recursively, sorted) in folders; label = parent folder."""
    from siamkit.data.folders import IMAGE_EXTENSIONS, find_images

    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += find_images(p)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {', '.join(inputs)}")
    return paths, [p.parent.name for p in paths]


def embedding_files(path: Path) -> list[Path]:
    """The files :func:`write_embeddings` writes for ``path``: ``.npy`` and its ``.ids.txt``, or
    the one ``.parquet``."""
    return [path, path.with_suffix(".ids.txt")] if path.suffix.lower() == ".npy" else [path]


def check_embeddings_out(path: Path) -> None:
    """Refuse, before any image is read, an ``--out`` that :func:`write_embeddings` could not
    write: not ``.npy`` / ``.parquet``, a folder, or a path below a file (``notes.txt/z.npy``).

    Raises:
        ValueError: one sentence naming the problem and what to do.
    """
    from siamkit.atomic import check_writable_file

    if path.suffix.lower() not in (".npy", ".parquet"):
        raise ValueError(f"--out {path}: write embeddings to a .npy or .parquet file")
    for file in embedding_files(path):
        what = f"--out {path}" if file == path else f"{file} (the row ids of --out {path})"
        check_writable_file(file, what)


def write_embeddings(
    path: Path, z: np.ndarray, ids: Sequence[str], labels: Sequence[Any] | None
) -> list[Path]:
    """``.npy``: the ``(N, D)`` float32 matrix plus ``<name>.ids.txt`` (one id per row);
    ``.parquet``: columns ``id``, ``label`` (if known) and ``embedding`` (list of float32).

    Each file is written beside its name and renamed over it only when complete (the two files
    of ``.npy`` together, once both are written), so an interrupted write (Ctrl-C, an error)
    leaves earlier files as they were and no partial file under the name."""
    import numpy as np

    from siamkit.atomic import atomic_path

    suffix = path.suffix.lower()
    if suffix not in (".npy", ".parquet"):  # before a missing folder of --out is made
        raise ValueError(f"--out {path}: write embeddings to a .npy or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        ids_path = embedding_files(path)[1]
        with atomic_path(path) as tmp, atomic_path(ids_path) as ids_tmp:
            with tmp.open("wb") as f:  # np.save(path) writes "z.NPY" as "z.NPY.npy"
                np.save(f, z.astype(np.float32), allow_pickle=False)
            ids_tmp.write_text("".join(f"{i}\n" for i in ids))
        return [path, ids_path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "writing .parquet needs pyarrow: pip install pyarrow (or write .npy)"
        ) from None
    cols: dict[str, Any] = {"id": pa.array([str(i) for i in ids])}
    if labels is not None:
        cols["label"] = pa.array([str(v) for v in labels])
    flat = pa.array(z.astype(np.float32).reshape(-1))
    cols["embedding"] = pa.FixedSizeListArray.from_arrays(flat, z.shape[1])
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(pa.table(cols), tmp)
    return [path]


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def metric_cell(value: Any) -> str:
    """A metric's value in a printed table: 4 decimals, and "-" for one not measured (None)."""
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def metrics_table(
    rows: Sequence[tuple[str, Any]],
    verification: dict[str, Any],
    header: tuple[str, str] = ("metric", "value"),
) -> str:
    """``rows`` of (name, value) as a printed table, followed by why a TAR@FAR shows "-" when
    ``verification``'s impostor pairs are too few to measure it (:func:`unresolved_far_note`)."""
    table = format_table([(name, metric_cell(v)) for name, v in rows], header)
    shown = [name.split("=", 1)[1] for name, _ in rows if name.startswith("TAR@FAR=")]
    note = unresolved_far_note(verification, shown)
    return table if note is None else f"{table}\n{note}"


#: The FAR of :func:`headline_rows`' one TAR@FAR row, as ``metrics.json`` keys it (the JSON
#: keeps every FAR measured).
HEADLINE_FAR = "0.001"


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of the headline metrics in a ``metrics.json`` dict."""
    fs = metrics.get("few_shot", {})
    ver, ret = metrics.get("verification", {}), metrics.get("retrieval", {})
    rows: list[tuple[str, float | None]] = [
        (f"{k.replace('way', '-way ').replace('shot', '-shot')}", v["accuracy"])
        for k, v in fs.items()
    ]
    rows += [
        ("EER", ver.get("eer")),
        ("ROC AUC", ver.get("roc_auc")),
        ("TAR@FAR=1e-3", _resolved(ver, HEADLINE_FAR)),
        ("P@1", ret.get("precision_at_1")),
        ("MAP@R", ret.get("map_at_r")),
    ]
    return rows


#: The ranking and clustering metrics of a ``metrics.json`` retrieval section beyond the
#: headline P@1 and MAP@R, as printed by ``siamkit evaluate`` (NMI/AMI only when computed).
RETRIEVAL_ROWS = (
    ("R-precision", "r_precision"),
    ("MAP (all ranks)", "mean_average_precision"),
    ("MRR", "mean_reciprocal_rank"),
    ("NMI (k-means)", "nmi"),
    ("AMI (k-means)", "ami"),
)


def retrieval_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of the retrieval metrics :func:`headline_rows` leaves out (R-precision, MAP
    over all ranks, MRR, and NMI/AMI when clustering was computed): those ``metrics`` holds."""
    ret = metrics.get("retrieval") or {}
    return [(name, ret[key]) for name, key in RETRIEVAL_ROWS if key in ret]


def _resolved(ver: dict[str, Any], far: str) -> float | None:
    """``ver``'s TAR at ``far``, or None where its impostor pairs are too few to measure it."""
    from siamkit.evaluation.verification import far_resolved

    value = ver.get("tar_at_far", {}).get(far)
    return value if far_resolved(float(far), ver.get("n_impostor")) else None


def unresolved_far_note(ver: dict[str, Any], shown: Iterable[str] = (HEADLINE_FAR,)) -> str | None:
    """The line printed under a table whose TAR@FAR rows show "-" for too few impostor pairs;
    ``shown``: the FARs the table has rows for (``"1e-3"`` or ``"0.001"``; by default
    :func:`headline_rows`' one), so the line names no FAR the table leaves out."""
    from siamkit.evaluation.verification import far_resolved

    n = ver.get("n_impostor")
    rows = {float(f) for f in shown}
    fars = sorted(
        (
            float(f)
            for f in ver.get("tar_at_far", {})
            if float(f) in rows and not far_resolved(float(f), n)
        ),
        reverse=True,
    )
    if not fars or n is None:
        return None
    names = " and ".join(f"TAR@FAR={f:.0e}".replace("e-0", "e-") for f in fars)
    needs = " and ".join(f"{math.ceil(1 / f):,}" for f in fars)
    return (
        f"{names}: not measured. A false-accept rate of f needs at least 1/f impostor pairs "
        f"({needs}), and these are {n:,}; the JSON keeps the value{'s' if len(fars) > 1 else ''}."
    )


class DistanceThreshold(click.ParamType):
    """A ``--threshold`` on a distance: a finite number >= 0 (NaN, infinity and negative values
    would accept everything or nothing); used by every command with a distance ``--threshold``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(
                f"{value!r} is not a number; give a distance threshold such as 0.6.", param, ctx
            )
        if not math.isfinite(number) or number < 0:
            self.fail(
                f"{value} is not a distance threshold; give a finite number of at least 0.",
                param,
                ctx,
            )
        return number


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
