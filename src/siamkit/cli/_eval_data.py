"""The images and classes ``siamkit evaluate``, ``calibrate``, ``embed`` and export's int8 check
read from --data (a built-in data set or a folder of class sub-folders), and what a model's
metadata says of the data its run trained on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siamkit.clauses import counted, listed
from siamkit.cli._image_files import read_image_files, torch_labels
from siamkit.cli._inputs import BUILTIN_SHAPES, DATASET_NAMES, resolve_classes

if TYPE_CHECKING:
    from torch import Tensor


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
        count = (
            f"{counted(len(self.y), 'image')} of {counted(len(self.chosen), 'class', 'classes')}"
        )
        return f"{count} ({shown}) from {self.source}"


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
                f"classes: {_labeled_data_hint(shape, data, option, model_meta)}"
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
    sub-folders (a nested folder of photos), yet they are not classes. Its ``run.labels_used``
    says so; models saved before that was recorded say it by ``self_supervised``, which only
    ``task: ssl`` writes."""
    return (model_meta.get("run") or {}).get("labels_used") is False or (
        "self_supervised" in model_meta
    )


def labelled_val_root(meta: dict[str, Any], option: str = "--check-data") -> str | None:
    """The labelled validation folder (``data.val_root``: one sub-folder per class, its kNN
    monitor's images) that a self-supervised run recorded, the only labels it had: the folder
    it learned from may hold loose photos or dated sub-folders, which are not classes; ``None``
    when the run recorded none. Read from ``run.val_root`` (made absolute where training ran),
    else, in models saved before that was recorded, ``data.val_root`` as the config gave it
    where that is absolute: a relative one was read from the folder training ran in, which such
    a model does not record, and read from here it may be another project's ``labelled/``.

    ``siamkit export --int8`` checks on it, and ``siamkit evaluate`` and ``calibrate`` read it
    when --data is not given; ``option``: the command's option that gives other images instead.

    Raises:
        ValueError: the run recorded one and it is not there (moved), or only as a relative
            path, naming it and ``option``.
    """
    given = ((meta.get("config") or {}).get("data") or {}).get("val_root")
    root = (meta.get("run") or {}).get("val_root") or given
    if not _learned_without_labels(meta) or not isinstance(root, str) or not root:
        return None
    if not Path(root).is_absolute():  # only an old model's config: where it trained is unknown
        raise ValueError(
            f"the run recorded its labelled validation folder as data.val_root {root}, relative "
            f"to the folder it trained in, which it does not record; pass {option} FOLDER "
            "(held-out images, one sub-folder per class)"
        )
    if not Path(root).is_dir():
        raise ValueError(
            f"the run's labelled validation folder (data.val_root) {root} is not there; pass "
            f"{option} FOLDER (held-out images, one sub-folder per class)"
        )
    return root


def val_root_source(path: str) -> str:
    """How a command names the run's labelled validation folder ``path``
    (:func:`labelled_val_root`) it read without being given it: not as a folder the user named,
    nor as a test set. calibrate records it as its ``calibration.data``.

    >>> val_root_source("/photos/labelled")
    "the run's labelled validation folder /photos/labelled (data.val_root)"
    """
    return f"the run's labelled validation folder {path} (data.val_root)"


def val_root_note(verb: str) -> str:
    """The note a command (``verb``: ``"evaluate"``, ``"calibrate"``) says when, given no
    --data, it read the run's labelled validation folder (:func:`labelled_val_root`).

    >>> val_root_note("calibrate").split(":")[1].split(" the run")[0]
    ' calibrated on'
    """
    return (
        f"no --data given: {verb}d on the run's labelled validation folder (data.val_root), the "
        "images its kNN monitor watched during training, not a held-out test set; pass --data "
        f"FOLDER (one sub-folder per class) to {verb} on other images"
    )


def _labeled_data_hint(
    shape: tuple[int, int, int],
    data: str,
    option: str = "--data",
    model_meta: dict[str, Any] | None = None,
) -> str:
    """What to give instead of images without classes: the labelled validation folder the
    model's self-supervised run recorded (``data.val_root``, where it is still there: the user
    has one and may not remember it), a folder of class sub-folders, or a built-in data set of
    the model's input shape (built-in images are not resized)."""
    fits = [n for n, s in BUILTIN_SHAPES.items() if s == tuple(shape) and n != data]
    builtin = f", or {option} {listed(fits, 'or')}" if fits else ""
    try:
        val_root = labelled_val_root(model_meta or {}, option)
    except ValueError:  # recorded, and gone: nothing to offer
        val_root = None
    own = f"the run's labelled validation folder ({option} {val_root}) or " if val_root else ""
    return (
        f"give {own}a folder with one sub-folder of images per class ({option} DIR, e.g. "
        f"DIR/cat/1.png, DIR/dog/2.png; its images are resized to the model's size){builtin}"
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
    if _islabelled_val_root(folder, model_meta):  # read without --data, or given it back
        raise ValueError(
            f"{val_root_source(data)} holds {layout}, so it "
            f"has no classes to measure with: pass {option} FOLDER with one sub-folder of images "
            "per class (e.g. FOLDER/cat/1.png, FOLDER/dog/2.png)"
        )
    raise ValueError(
        f"{option} {data} holds {layout}{learned}, so it has no classes to measure with: "
        f"{_labeled_data_hint(shape, data, option, model_meta)}"
    )


def _islabelled_val_root(folder: Path, model_meta: dict[str, Any]) -> bool:
    """``folder`` is the labelled validation folder the model's self-supervised run recorded
    (``data.val_root``), which evaluate and calibrate read without --data: a refusal of it names
    it as such rather than as an option the user may not have given, nor offers it back."""
    try:
        val_root = labelled_val_root(model_meta)
    except ValueError:  # recorded, and gone or relative: not this folder
        return False
    return val_root is not None and Path(val_root).resolve() == folder.resolve()


def run_data_default(
    meta: dict[str, Any], option: str = "--data", hint: str | None = None
) -> str | None:
    """The data ``siamkit evaluate`` and export's int8 check read, given none, for a model
    whose run trained with labels on data other than a built-in data set: the image folder it
    trained on (``data.root``, as ``run.data_root`` recorded it), which :func:`load_eval_data`
    reads as the run's own test set (the classes it kept for testing, or with
    ``data.train_classes: null`` the images it held out), as ``siamkit train`` measured it.
    ``None`` for a model whose run trained on a built-in data set, learned without labels
    (:func:`labelled_val_root`), or recorded no run: those keep their own default. Fashion-MNIST
    was that default for every model, so a folder's model was measured on a data set, and
    classes, it never saw, said only in the data line. ``option``: the command's option that
    gives other images; ``hint``: what a refusal says to give it (by default a folder of
    classes it did not train on; calibrate wants held-out images of those it did).

    Raises:
        ValueError: the folder it trained on is not there, or recorded only relative to where
            it trained (a model saved before ``run.data_root``), or the run trained on data that
            cannot be read back by name (a generated or plug-in source): one sentence naming
            it and ``option``.
    """
    run = meta.get("run") or {}
    dataset = run.get("dataset", ((meta.get("config") or {}).get("data") or {}).get("dataset"))
    if not isinstance(dataset, str) or dataset in DATASET_NAMES or _learned_without_labels(meta):
        return None
    hint = _unseen_classes_hint(option) if hint is None else hint
    root = training_folder(meta)[0]
    if root is not None and not Path(root).is_absolute():
        # only an old model's config (before run.data_root): read from here, it may be another
        # project's folder of the same name, scored or calibrated as the one it trained on
        raise ValueError(
            f"no {option} given, and this model recorded the folder it trained on as data.root "
            f"{root}, relative to the folder it trained in, which it does not record: "
            f"{hint}"
        )
    if root is not None and Path(root).is_dir():
        if _unlabeled(Path(root)):  # loose images now: no classes, and none the run recorded
            raise _not_its_classes(root, option, hint)
        if _trained_on_every_class(meta):
            _refuse_changed_split(root, meta, option, hint)
        return root
    trained = (
        f"the folder this model trained on (data.root {root}) is not there"
        if root is not None
        else f"this model trained on {dataset} data, which cannot be read back by name"
    )
    raise ValueError(f"no {option} given, and {trained}: {hint}")


def _refuse_changed_split(
    root: str, meta: dict[str, Any], option: str, hint: str | None = None
) -> None:
    """A ``data.train_classes: null`` run tested a seeded share of each class's images, drawn
    from the classes' image counts: one image added to a class draws others, mostly ones it
    trained on. Refuse the folder, read without ``option``, unless its counts are the ones the
    run recorded (``run.class_images``); a run that recorded none cannot be checked. A folder
    whose classes changed is left to :func:`own_folder_test_set`. ``hint``: as for
    :func:`run_data_default`."""
    hint = _unseen_classes_hint(option) if hint is None else hint
    from siamkit.experiment.run import folder_class_images

    recorded = (meta.get("run") or {}).get("class_images")
    if not isinstance(recorded, list):
        raise ValueError(
            f"no {option} given, and this model's run does not record how many images each "
            f"class of the folder it trained on (data.root {root}) held, so whether the images "
            f"it held out of training are still the ones it tested cannot be checked: "
            f"{hint}"
        )
    names, counts = folder_class_images(root)
    if names != list(meta.get("class_names") or []) or len(recorded) != len(counts):
        return
    changed = [
        f"{n}: {counted(now, 'image')}, {then:,} when it trained"
        for n, now, then in zip(names, counts, recorded)
        if now != then
    ]
    if changed:
        left = len(changed) - 3
        more = f" and {counted(left, 'more class', 'more classes')}" if left > 0 else ""
        raise ValueError(
            f"no {option} given, and the folder this model trained on (data.root {root}) no "
            f"longer holds the images its run split ({'; '.join(changed[:3])}{more}), so which "
            f"of them it held out of training is unknown: {hint}"
        )


def own_folder_test_set(root: str, ev: EvalData, meta: dict[str, Any], option: str) -> None:
    """Check that ``ev``, read without ``option`` from the folder ``root`` the model trained
    on (:func:`run_data_default`), is its run's test set: a folder whose classes are no longer
    the ones the run recorded gives every class, those it trained on too, as if unseen.

    Raises:
        ValueError: they are not, naming the folder and ``option``.
    """
    if _own_folder_classes(Path(root), ev.names, meta) is None:
        raise _not_its_classes(root, option)


def _not_its_classes(root: str, option: str, hint: str | None = None) -> ValueError:
    """The refusal of the folder a model trained on, read without ``option``, whose classes are
    not the ones its run recorded (the run's class numbers name others there, or none);
    ``hint``: as for :func:`run_data_default`."""
    return ValueError(
        f"no {option} given, and the folder this model trained on (data.root {root}) no "
        "longer holds the classes its run recorded, so which of them it did not train on "
        f"is unknown: {_unseen_classes_hint(option) if hint is None else hint}"
    )


def run_data_note(verb: str, meta: dict[str, Any], classes: bool = False) -> str:
    """The note a command (``verb``: ``"evaluate"``) says when, given no --data, it read the
    folder the model trained on (:func:`run_data_default`): what of it (``classes``: those
    --classes named), and how to give others.

    >>> run_data_note("evaluate", {}).split("; ")[0]
    'no --data given: evaluated on the folder the model trained on (data.root), the classes its run kept for testing, as siamkit train did'
    """
    what = (
        "the classes --classes names"
        if classes
        else "the images its run held out of training, as siamkit train did"
        if _trained_on_every_class(meta)
        else "the classes its run kept for testing, as siamkit train did"
    )
    return (
        f"no --data given: {verb}d on the folder the model trained on (data.root), {what}; "
        f"pass --data FOLDER (one sub-folder per class) to {verb} on other images"
    )


def _unseen_classes_hint(option: str) -> str:
    """The way to give a model trained on a folder (or other data of its own) images to
    measure it on: Fashion-MNIST is no default for it. Only --data has --classes beside it.

    >>> _unseen_classes_hint("--check-data")
    'give --check-data a folder of classes it did not train on, one sub-folder per class'
    """
    picks = " (--classes picks some of them)" if option == "--data" else ""
    return f"give {option} a folder of classes it did not train on, one sub-folder per class{picks}"


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


def _subset(x: Tensor, y: Tensor, classes: Sequence[int]) -> tuple[Tensor, Tensor]:
    import torch

    mask = torch.isin(y, torch.tensor(list(classes), dtype=y.dtype))
    return x[mask], y[mask]
