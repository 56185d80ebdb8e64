"""The Optuna study behind ``siamkit tune``: opened in ``DIR/study.db`` (SQLite), refused when
it was started with another config or space, and the plug-ins and trial states it records."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siamkit.clauses import listed, listing
from siamkit.training import RunConfig
from siamkit.training.config import VAL_METRICS_LOWER_BETTER
from siamkit.training.config_guard import config_diff, saved_shape_unset
from siamkit.training.config_io import config_to_dict
from siamkit.tuning.space import Param, SearchSpace

STUDY_FILE = "study.db"
STUDY_NAME = "siamkit-tune"


INTERRUPTED = "interrupted"
"""The user attribute of a trial that a Ctrl-C or a kill stopped (Optuna stores it as failed)."""


def _fail_stale(study: Any) -> None:
    """Trials left RUNNING by a killed study can never finish: mark them failed, as interrupted."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, INTERRUPTED, True)
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)


#: The file in a study's folder that a running study holds an OS lock on (:class:`StudyLock`).
STUDY_LOCK = "tune.lock"


class StudyInUse(ValueError):
    """Another process runs a study in the folder: it holds the folder's :data:`STUDY_LOCK`."""


class StudyNotLocked(UserWarning):
    """The folder could not be locked (Windows, or a file system without ``flock``): the study
    runs, but nothing keeps a second one out of the folder."""


class StudyLock:
    """An exclusive ``flock`` on ``out/tune.lock``, held while one process runs the study in
    ``out``. Two studies in one folder failed each other's running trials (a study opened marks
    every running trial interrupted: :func:`_fail_stale`) and overwrote each other's
    ``best.yaml`` and ``trials.csv``. The operating system drops the lock when the process ends,
    however it ends, so a killed study never leaves its folder locked (as a PID file would); the
    file is removed on release, and one a crash left behind is taken over.

    Where ``flock`` does not work (Windows; a file system without it, as some network mounts)
    the study runs unlocked, and ``say`` (or a :class:`StudyNotLocked` warning without it) says
    so once: the lock was skipped silently, while the README and ``--help`` promised one study
    in a folder at a time. A lock file made for the attempt is removed at once: it locks
    nothing, and left there (no release removes it) it refused every other user's later study
    in the folder, as a file they may not open."""

    def __init__(self, out: Path, say: Callable[[str], None] | None = None) -> None:
        self.out = out
        self._fd: int | None = None
        self._say = say
        self._unlocked = False  # said once; not tried again (``take`` is called twice a study)

    def __enter__(self) -> StudyLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def take(self) -> None:
        """Lock the folder, if it is there and not yet locked by this one (where it cannot be
        locked, say so once and go on unlocked).

        Raises:
            StudyInUse: another process holds the lock (one sentence naming the folder).
            ValueError: the lock file cannot be opened (:meth:`_open`).
        """
        if self._fd is not None or self._unlocked or not self.out.is_dir():
            return
        if sys.platform == "win32":
            self._not_locked("Windows has no flock")
            return
        import fcntl

        path = self.out / STUDY_LOCK
        while True:
            fd, made = self._open(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StudyInUse(
                    f"--out {self.out} is in use: another siamkit tune is running a study in it "
                    f"(it holds {path}); wait for it to end, or give another --out"
                ) from None
            except OSError as err:  # a file system without flock (some network mounts)
                if made:  # only this one's: another's may be locked by a host where flock works
                    self._remove_if_held(path, fd)
                os.close(fd)
                self._not_locked(f"its file system refuses flock: {err.strerror or err}")
                return
            try:  # the file a releasing study removed after this one opened it: open it anew
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return
            os.close(fd)

    def _not_locked(self, why: str) -> None:
        """Say once that the study runs in its folder unlocked, and why."""
        self._unlocked = True
        msg = (
            f"--out {self.out} cannot be locked for the study ({why}), so a second siamkit tune "
            "started in it would not be refused and would fail this study's running trials; "
            "run one study in the folder at a time"
        )
        if self._say is not None:
            self._say(f"warning: {msg}")
        else:
            warnings.warn(msg, StudyNotLocked, stacklevel=3)

    def _open(self, path: Path) -> tuple[int, bool]:
        """``path`` opened to lock (made if not there), and whether this call made it.

        Raises:
            ValueError: a folder there, or a file this user may not open (one another user
                left): one sentence, not the bare ``OSError``.
        """
        try:
            try:
                return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                return os.open(path, os.O_RDWR | os.O_CREAT, 0o644), False
        except IsADirectoryError:
            why = "is a folder, where a study keeps its lock file; remove it"
        except PermissionError as err:
            why = (
                f"cannot be opened ({err.strerror}); remove it if no siamkit tune runs in the "
                "folder"
                if path.exists()
                else f"cannot be made ({err.strerror}); let this user write in the folder"
            )
        raise ValueError(
            f"--out {self.out} cannot be locked for the study: {path} {why}, or give another --out"
        ) from None

    def release(self) -> None:
        """Remove the lock file and drop the lock (removed first: a study that opened the file
        meanwhile finds it gone once it holds the lock, and opens a new one). Removed only if
        it is still this lock's file: one removed by hand while the study ran was replaced by
        the next study's, and removing that let a third study lock a new file beside it."""
        if self._fd is None:
            return
        self._remove_if_held(self.out / STUDY_LOCK, self._fd)
        os.close(self._fd)
        self._fd = None

    @staticmethod
    def _remove_if_held(path: Path, fd: int) -> None:
        """Remove ``path`` if it is still the file ``fd`` is open on."""
        with contextlib.suppress(OSError):  # gone already, or cannot be removed: still unlock
            held, there = os.fstat(fd), os.stat(path)
            if (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
                path.unlink()


#: The user attribute of a trial that failed for a reason other than a refused combination.
FAILED = "failed"


def _reason(trial: Any) -> str:
    """Why a failed trial failed, for ``trials.csv`` (empty for another state)."""
    if trial.state.name != "FAIL":
        return ""
    if trial.user_attrs.get(INTERRUPTED):
        return "stopped by Ctrl-C or a kill"
    return str(trial.user_attrs.get("refused") or trial.user_attrs.get(FAILED) or "")


def _state(trial: Any) -> str:
    """A trial's state as ``trials.csv`` and the summary name it: Optuna's, but ``interrupted``
    for a trial a Ctrl-C or a kill stopped (not a failure of its values)."""
    if trial.state.name == "FAIL" and trial.user_attrs.get(INTERRUPTED):
        return INTERRUPTED
    return str(trial.state.name.lower())


def _signature(base: RunConfig, space: list[Any]) -> str:
    return json.dumps({"config": config_to_dict(base), "space": space}, sort_keys=True, default=str)


def _read_signature(saved: str | None, config: dict[str, Any]) -> str | None:
    """A stored signature as this run's would be for the same study: its config's
    ``data.image_size`` 64 / ``data.grayscale`` false, the defaults a study started before they
    could be unset recorded, read as unset where ``config`` leaves them unset
    (:func:`saved_shape_unset`, as a checkpoint's are on ``--resume``)."""
    if saved is None:
        return None
    old = json.loads(saved)
    stored = old.get("config") if isinstance(old, dict) else None
    if not isinstance(stored, dict):
        return saved
    now = json.loads(json.dumps(config, default=str))
    read = saved_shape_unset(stored, now)
    if read is stored:
        return saved
    return json.dumps({**old, "config": read}, sort_keys=True, default=str)


#: The most keys that differ a refused study's message names before "and N more".
NAMED = 3


def _what_differs(
    saved: str, config: dict[str, Any], signature: str, study: Any, space: SearchSpace
) -> str:
    """Which of a study's config and space differ from this run's, from the two signatures,
    with the keys that differ (:func:`config_diff`, as ``--resume`` names them, in the config's
    order, ``config`` the run's config dict): "a different config (loss.margin)", "a different
    space (optim.lr)", or both."""
    old, new = json.loads(saved), json.loads(signature)
    parts = []
    if old.get("config") != new["config"]:
        # the run's config as the signature holds it (json values), in the config's key order
        now = json.loads(json.dumps(config, default=str))
        keys = listing(config_diff(old.get("config") or {}, now), NAMED)
        parts.append(f"config ({keys})" if keys else "config")
    old_space, new_space = old.get("space") or [], new["space"]
    keys_only = all(isinstance(p, str) for p in old_space)
    if keys_only:  # saved with the key names alone: the trials' distributions say the rest
        was = {k: None for k in old_space} | {
            k: "drawn otherwise" for k in _keys_drawn_otherwise(study, space)
        }
        space_now = {p["key"]: None for p in new_space}
    else:
        was = {p["key"]: p for p in old_space}
        space_now = {p["key"]: p for p in new_space}
    keys = listing(config_diff(was, space_now, depth=1), NAMED)  # a searched key is one name
    if keys or (not keys_only and old_space != new_space):
        parts.append(f"space ({keys})" if keys else "space")
    return "a different " + (" and a different ".join(parts) if parts else "config or space")


def _distribution(p: Param) -> Any:
    """The Optuna distribution :func:`_suggest` samples ``p`` from."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if p.kind == "choice":
        return CategoricalDistribution(p.labels())
    if p.kind == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log)
    return FloatDistribution(p.low, p.high, log=p.log)


def _keys_drawn_otherwise(study: Any, space: SearchSpace) -> set[str]:
    """The keys some trial of ``study`` drew from another distribution than ``space``'s (or
    that ``space`` does not search)."""
    wanted = {p.key: _distribution(p) for p in space.params}
    return {
        k
        for t in study.get_trials(deepcopy=False)
        for k, d in t.distributions.items()
        if wanted.get(k) != d
    }


def _same_space(study: Any, space: SearchSpace) -> bool:
    """Whether every trial of ``study`` was drawn from ``space``'s distributions (a study saved
    with the key names alone, before the signature held the whole space)."""
    return not _keys_drawn_otherwise(study, space)


def storage_url(db: Path) -> str:
    """The SQLAlchemy URL of the SQLite file ``db``, escaped: SQLAlchemy reads a ``?`` in a
    bare ``sqlite:///`` path as the start of its query (``--out x/a?b`` wrote ``x/a``) and
    decodes ``%xx`` in it, so a path holding them named another file or none."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(db)).render_as_string(hide_password=False)


#: The first epoch at whose end a trial may be pruned: the first epoch's score, of a network one
#: epoch from its random start (or still in its learning-rate warm-up), ranks recipes poorly.
#: Epochs are reported as steps counted from 1, and Optuna's ``MedianPruner`` prunes from step
#: ``n_warmup_steps`` on, so the ``n_warmup_steps=1`` meant for this pruned at epoch 1 all the same.
PRUNE_FROM_EPOCH = 2


def _open_study(base: RunConfig, space: SearchSpace, out: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # the whole space (kinds, ranges, choices, log flags): a changed range or choice list is
    # another study, whose trials Optuna could not mix with these (or would mix silently)
    config = config_to_dict(base)
    signature = _signature(base, [dataclasses.asdict(p) for p in space.params])
    keys_only = _signature(base, [p.key for p in space.params])
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage_url(out / STUDY_FILE),
        load_if_exists=True,
        direction="minimize" if base.train.val_metric in VAL_METRICS_LOWER_BETTER else "maximize",
        sampler=optuna.samplers.TPESampler(seed=base.train.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=PRUNE_FROM_EPOCH),
    )
    saved = _read_signature(study.user_attrs.get("signature"), config)
    # a new study, or one saved with the key names alone whose trials are of this same space
    if saved is None or (saved == keys_only and _same_space(study, space)):
        study.set_user_attr("signature", signature)
    elif saved != signature:
        raise ValueError(
            f"{out / STUDY_FILE} holds a study of {_what_differs(saved, config, signature, study, space)}"
            ": give a new --out to start a fresh study, or the config, --set values and --space "
            "it was started with to continue it"
        )
    _check_kept_kwargs(study, base, space, out)
    _fail_stale(study)
    # A seeded sampler restarts its random draws with the process: a resumed study would repeat
    # the values of its first trials. Seeding by the trials already held continues the sequence.
    n_held = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=base.train.seed + n_held)
    return study


#: The study's user attribute saying its trials merged a choice's ``model.encoder_kwargs`` over
#: the config's (:meth:`SearchSpace.overrides`); a study without it replaced them wholesale.
MERGED_KWARGS_ATTR = "encoder_kwargs_merged"


def _check_kept_kwargs(study: Any, base: RunConfig, space: SearchSpace, out: Path) -> None:
    """Refuse to continue a study whose trials were drawn before a choice's ``encoder_kwargs``
    were merged over the config's, when the merge keeps some of the config's (``taps``): its
    trials trained without them, and new ones would not be alike; mark the study otherwise."""
    kept = space.kept_encoder_kwargs(base)
    if kept and study.get_trials(deepcopy=False) and not study.user_attrs.get(MERGED_KWARGS_ATTR):
        names = listed(kept)
        raise ValueError(
            f"{out / STUDY_FILE} holds a study whose {base.model.encoder} trials trained "
            f"without the config's model.encoder_kwargs {names} (siamkit tune then replaced them "
            "with each choice's encoder_kwargs; it now keeps them), so new trials would not be "
            "alike: give a new --out to start a fresh study"
        )
    if not study.user_attrs.get(MERGED_KWARGS_ATTR):
        study.set_user_attr(MERGED_KWARGS_ATTR, True)


#: The study's user attribute holding the plug-in modules its runs were started with.
PLUGINS_ATTR = "plugins"


def _remember_plugins(study: Any, plugins: Sequence[str]) -> list[str]:
    """The plug-ins the study was started with before (stored in ``study.db``) and now, stored
    again: a continued study imports them (:func:`import_study_plugins`) and its ``best.yaml``
    names them, though no --plugin names them again."""
    saved = study.user_attrs.get(PLUGINS_ATTR) or []
    merged = list(dict.fromkeys([*saved, *plugins]))
    if merged != saved:
        study.set_user_attr(PLUGINS_ATTR, merged)
    return merged


#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def not_a_study(db: Path) -> str | None:
    """Why the existing ``db`` is no study ``siamkit tune`` can continue ("it is not a SQLite
    database", ...), read without writing to it: opening it with Optuna writes Optuna's tables
    into any SQLite database (a hot journal a killed writer left is rolled back, as by any
    reader). ``None`` for a study's file, an empty one, Optuna's tables holding no study yet
    (a study killed as it began), or one SQLite may not write to roll such a journal back:
    a study begins or goes on in it, or Optuna's open says what is wrong."""
    import sqlite3

    if not db.is_file():
        return "it is a folder" if db.is_dir() else "it is not a file"
    with db.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if not head:
        return None
    if head != SQLITE_HEADER:
        return "it is not a SQLite database"
    try:  # read-only: nothing is written into a database that is not a study's
        tables, names = _tables_and_studies(db, "ro")
    except sqlite3.Error as err:
        if not _readonly(err):
            return f"SQLite cannot read it: {err}"
        # A process killed inside a write (a trial's, Optuna's table creation) leaves a hot
        # -journal that SQLite must roll back before the file can be read (or a -wal to
        # recover), which a read-only connection cannot do. It is read again by a connection
        # that may write, as Optuna and any reader open it: the rollback restores the last
        # committed state, and it writes nothing else.
        try:
            tables, names = _tables_and_studies(db, "rw")
        except sqlite3.Error as again:
            if not _readonly(again):
                return f"SQLite cannot read it: {again}"
            # it may not be written here at all: neither can Optuna write its tables into
            # it, and its own open says what is wrong
            return None
    if tables and "studies" not in tables:
        return "a SQLite database of other tables, not Optuna's"
    if names and STUDY_NAME not in names:
        return f"its Optuna studies, {listed(sorted(names))}, are none of them siamkit tune's {STUDY_NAME}"
    return None


def _tables_and_studies(db: Path, mode: str) -> tuple[set[str], list[str]]:
    """The names of the SQLite database ``db``'s tables, and of the studies in its ``studies``
    table if it has one, read by a connection opened in ``mode`` (``ro``, ``rw``)."""
    import sqlite3

    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode={mode}", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        names = (
            [str(r[0]) for r in con.execute("SELECT study_name FROM studies")]
            if "studies" in tables
            else []
        )
    finally:
        con.close()
    return tables, names


#: SQLite's primary result code SQLITE_READONLY (a module constant only from Python 3.11).
SQLITE_READONLY = 8


def _readonly(err: Exception) -> bool:
    """Whether ``err`` is SQLite's SQLITE_READONLY, or one of its extended codes (rollback,
    recovery, ...): Python 3.10 gives no code, only the message "attempt to write a readonly
    database"."""
    code = getattr(err, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == SQLITE_READONLY
    return "readonly database" in str(err)


def import_study_plugins(out_dir: str | Path) -> list[str]:
    """Import the plug-in modules the study in ``out_dir`` was started with (``--plugin``, the
    config's ``plugins:``), so continuing it reads a config naming their parts without --plugin
    again; returns them, ``[]`` for a folder without a study.

    Raises:
        ImportError: one of them cannot be imported (one sentence naming it and ``study.db``).
    """
    from siamkit.registry import import_plugins

    db = Path(out_dir) / STUDY_FILE
    if not db.is_file() or not_a_study(db):  # Optuna would write its tables into a user's file
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage_url(db))
        saved = study.user_attrs.get(PLUGINS_ATTR) or []
    except Exception:  # no study of this name, or not a study file: opening it says which
        return []
    names = [str(n) for n in saved if isinstance(n, str) and n]
    try:
        import_plugins(names, entry_points=False)
    except ImportError as err:
        raise ImportError(f"{db}: plugins: {err}") from None
    return names
