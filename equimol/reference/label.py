"""Resumable, parallel xTB labelling of structure files.

Units of the labels: energy eV, forces eV/Å, dipole e·Å (about the coordinate origin),
polarizability Å³, total_charge e.

Resume protocol: every finished structure (labelled or failed) is appended as one flushed
JSON line to ``OUTPUT.partial.jsonl``, after a header line with the settings and a hash of
the input. A rerun with the same settings skips the indices already there; a truncated last
line (process killed mid-write) is dropped. The output is written atomically at the end and
the progress file removed. Failures are never dropped: they go to ``OUTPUT.failures.json``
(index + message) and a warning; a rerun does not retry them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from equimol import keys
from equimol.data.formats import detect_format, read_structures, write_structures
from equimol.data.validate import validate_structure
from equimol.errors import DataError
from equimol.reference.xtb import (
    DEFAULT_FIELD_STEP,
    DEFAULT_SETTINGS,
    GEOMETRY_KEYS,
    PROPERTIES,
    XTBSettings,
    label_structure,
)

Structure = dict[str, np.ndarray]
Record = dict[str, Any]  # one progress line: {"index", "ok", labels...} or {"index", "ok", "error"}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class LabelReport:
    """What :func:`label_file` did. ``failures`` holds (input index, message) pairs."""

    output: str
    n_structures: int
    n_labelled: int
    n_resumed: int
    failures: list[tuple[int, str]] = field(default_factory=list)
    failures_path: str | None = None


def progress_path(output: str | os.PathLike[str]) -> Path:
    """Sidecar progress file of ``output``."""
    return Path(f"{os.fspath(output)}.partial.jsonl")


def failures_path(output: str | os.PathLike[str]) -> Path:
    """Failure report next to ``output``."""
    return Path(f"{os.fspath(output)}.failures.json")


def _fingerprint(structures: Sequence[Structure]) -> str:
    digest = hashlib.sha256()
    for s in structures:
        digest.update(np.ascontiguousarray(s[keys.ATOMIC_NUMBERS], dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(s[keys.POSITIONS], dtype=np.float64).tobytes())
    return digest.hexdigest()


def _label_one(
    index: int,
    structure: Structure,
    settings: XTBSettings,
    properties: Sequence[str],
    field_step: float,
) -> Record:
    """Label one structure; any exception becomes a failure record with its message."""
    try:
        validate_structure(structure, index=index)
        labelled = label_structure(structure, settings, properties, field_step)
    except Exception as error:  # report every failure with its index, never drop it
        return {"index": index, "ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"index": index, "ok": True, **{k: np.asarray(labelled[k]).tolist() for k in properties}}


def _label_chunk(
    chunk: list[tuple[int, Structure]],
    settings: XTBSettings,
    properties: Sequence[str],
    field_step: float,
) -> list[Record]:
    return [_label_one(i, s, settings, properties, field_step) for i, s in chunk]


def _init_worker() -> None:
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"


@contextlib.contextmanager
def _single_thread_environment() -> Iterator[None]:
    """Spawned workers inherit these variables before any OpenMP runtime loads in them."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update({name: "1" for name in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _ProgressLog:
    """Append-only JSON-lines log of finished structures, guarded by a settings header."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header

    def load(self) -> dict[int, Record]:
        """Records already on disk; rewrites the file without a torn last line."""
        if not self.path.exists():
            return {}
        lines = self.path.read_text(encoding="utf-8").split("\n")
        records: list[Record] = []
        header = None
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines) - 1:  # only the last line may be torn by a kill
                    continue
                raise ValueError(
                    f"{self.path}: corrupt line {number + 1}; delete the file to restart"
                ) from None
            if header is None:
                header = entry.get("header")
                continue
            records.append(entry)
        if header is None and not records:  # empty file or torn header: nothing was labelled
            self._rewrite([])
            return {}
        if header != self.header:
            old = header if isinstance(header, dict) else {}
            differ = sorted(k for k in {*old, *self.header} if old.get(k) != self.header.get(k))
            raise ValueError(
                f"{self.path} was written with different settings or input (differs in "
                f"{', '.join(differ)}); rerun with the same settings or delete it to start over"
            )
        self._rewrite(records)
        return {int(r["index"]): r for r in records}

    def _rewrite(self, records: list[Record]) -> None:
        from equimol.io import atomic_write  # equimol.io imports torch: only when writing

        with atomic_write(self.path, encoding="utf-8") as handle:
            for entry in [{"header": self.header}, *records]:
                handle.write(json.dumps(entry) + "\n")

    def start(self) -> None:
        if not self.path.exists():
            self._rewrite([])

    def append(self, records: list[Record]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
            handle.flush()  # survives a killed process; fsync per line would dominate small jobs


def _run_serial(todo: list[tuple[int, Structure]], args: tuple[Any, ...], sink: Any) -> None:
    for item in todo:
        sink([_label_one(*item, *args)])


def _run_parallel(
    todo: list[tuple[int, Structure]], args: tuple[Any, ...], sink: Any, workers: int, chunk_size: int
) -> None:
    chunks = [todo[k : k + chunk_size] for k in range(0, len(todo), chunk_size)]
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    pending: set[Future[list[Record]]] = set()
    try:
        with _single_thread_environment():
            for chunk in chunks:
                pending.add(executor.submit(_label_chunk, chunk, *args))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                sink(future.result())
    except BaseException:
        # Interrupted (e.g. Ctrl-C): let running chunks finish and keep their results, so a
        # resumed run relabels nothing that was already computed.
        executor.shutdown(wait=True, cancel_futures=True)
        for future in pending:
            if future.done() and not future.cancelled() and future.exception() is None:
                sink(future.result())
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def label_structures(
    structures: Sequence[Structure],
    settings: XTBSettings = DEFAULT_SETTINGS,
    properties: Sequence[str] = PROPERTIES,
    field_step: float = DEFAULT_FIELD_STEP,
    workers: int = 1,
    progress_file: str | os.PathLike[str] | None = None,
    progress: bool = True,
    chunk_size: int = 8,
) -> tuple[list[Structure | None], list[tuple[int, str]], int]:
    """Label structures in memory, optionally resumable through ``progress_file``.

    Returns (labelled structures in input order with ``None`` where the calculation failed,
    failures as (index, message), number of structures taken from the progress file).
    Units as in :func:`equimol.reference.xtb.single_point`.
    """
    properties = tuple(dict.fromkeys(properties))
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"unknown properties {sorted(unknown)}; known: {', '.join(PROPERTIES)}")
    if workers < 1 or chunk_size < 1:
        raise ValueError(f"workers and chunk_size must be >= 1, got {workers}, {chunk_size}")
    header = {
        "version": 1,
        "settings": asdict(settings),
        "properties": list(properties),
        "field_step_v_per_angstrom": field_step,
        "n_structures": len(structures),
        "input_sha256": _fingerprint(structures),
    }
    log = _ProgressLog(Path(progress_file), header) if progress_file is not None else None
    records: dict[int, Record] = log.load() if log is not None else {}
    n_resumed = len(records)
    todo = [(i, s) for i, s in enumerate(structures) if i not in records]
    args = (settings, properties, field_step)
    bar = tqdm(total=len(structures), initial=n_resumed, desc="xTB", unit="structure", disable=not progress)

    def sink(batch: list[Record]) -> None:
        if log is not None:
            log.append(batch)
        records.update({r["index"]: r for r in batch})
        bar.update(len(batch))

    if log is not None:
        log.start()
    try:
        if workers == 1 or len(todo) <= 1:
            _run_serial(todo, args, sink)
        else:
            _run_parallel(todo, args, sink, workers, chunk_size)
    finally:
        bar.close()
    labelled: list[Structure | None] = []
    failures: list[tuple[int, str]] = []
    for i, structure in enumerate(structures):
        record = records[i]
        if not record["ok"]:
            failures.append((i, str(record["error"])))
            labelled.append(None)
            continue
        labels = {k: np.asarray(record[k], dtype=np.float64) for k in properties}
        geometry = {k: v for k, v in structure.items() if k in GEOMETRY_KEYS}
        labelled.append({**geometry, **labels, keys.TOTAL_CHARGE: np.asarray(float(settings.charge))})
    return labelled, failures, n_resumed


def read_input(path: str | os.PathLike[str]) -> list[Structure]:
    """Structures of ``path``: equimol's readers for .xyz/.extxyz/.db/.npz/.h5 (unvalidated,
    so bad geometries become per-structure failures), ``ase.io.read`` for anything else."""
    try:
        detect_format(Path(path))
    except DataError:
        import ase.io

        images = ase.io.read(os.fspath(path), index=":")
        return [
            {
                keys.POSITIONS: np.asarray(a.get_positions(), dtype=np.float64),
                keys.ATOMIC_NUMBERS: np.asarray(a.get_atomic_numbers(), dtype=np.int64),
                **({keys.CELL: np.asarray(a.cell.array), keys.PBC: a.pbc.copy()} if a.pbc.any() else {}),
            }
            for a in images
        ]
    return read_structures(path, validate=False)


def label_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    method: str = "gfn2-xtb",
    properties: Sequence[str] = PROPERTIES,
    charge: float = 0.0,
    multiplicity: int = 1,
    workers: int = 1,
    field_step: float = DEFAULT_FIELD_STEP,
    progress: bool = True,
    accuracy: float = 1.0,
) -> LabelReport:
    """Label every structure of an ASE-readable file with xTB and write ``output_path``.

    Args:
        input_path: any file ``ase.io.read(path, index=':')`` reads.
        output_path: ``.xyz``/``.extxyz`` (extxyz with energy eV, forces eV/Å, dipole e·Å,
            polarizability Å³ as 9 row-major numbers in ``info``, total_charge e).
        method: ``gfn2-xtb``, ``gfn1-xtb`` or ``ipea1-xtb``.
        properties: subset of ``energy, forces, dipole, polarizability``.
        charge: total charge in e.  multiplicity: 2S + 1.
        workers: processes (spawned, one thread each).
        field_step: finite-field step for the polarizability, V/Å.
        progress: show a tqdm bar.  accuracy: tblite SCC accuracy (smaller is tighter).

    Resumable: rerunning after an interruption continues from ``OUTPUT.partial.jsonl``.
    Failed structures are left out of the output and listed in ``OUTPUT.failures.json``.
    """
    settings = XTBSettings(method=method, charge=charge, multiplicity=multiplicity, accuracy=accuracy)
    output = Path(output_path)
    structures = read_input(input_path)
    if not structures:
        raise ValueError(f"{input_path}: no structures to label")
    partial = progress_path(output)
    labelled, failures, n_resumed = label_structures(
        structures, settings, properties, field_step, workers, partial, progress
    )
    good = [s for s in labelled if s is not None]
    report_path = failures_path(output)
    if failures:
        from equimol.io import atomic_write  # equimol.io imports torch: only when writing

        entries = [{"index": i, "error": message} for i, message in failures]
        with atomic_write(report_path) as f:
            f.write(json.dumps({"input": os.fspath(input_path), "failures": entries}, indent=1))
        shown = ", ".join(f"{i} ({message})" for i, message in failures[:5])
        warnings.warn(
            f"{len(failures)} of {len(structures)} structures failed and are not in {output}: "
            f"{shown}{' ...' if len(failures) > 5 else ''}; full list in {report_path}",
            stacklevel=2,
        )
    elif report_path.exists():
        report_path.unlink()  # stale report of an earlier run of this output
    if good:
        write_structures(output, good)  # atomic: temp file + rename
    elif output.exists():
        output.unlink()  # every structure failed: leave no stale output behind
    partial.unlink()
    return LabelReport(
        output=os.fspath(output),
        n_structures=len(structures),
        n_labelled=len(good),
        n_resumed=n_resumed,
        failures=failures,
        failures_path=os.fspath(report_path) if failures else None,
    )
