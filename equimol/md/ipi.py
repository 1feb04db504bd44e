"""i-PI driver: serve an equimol model's energies, forces and dipoles over the i-PI socket.

i-PI (the server) propagates the (ring-polymer) dynamics and sends positions; this client
answers with the potential energy, forces and virial, and puts the dipole (and the
polarizability) into the ``extras`` JSON string. Wire units are atomic units (Bohr,
Hartree, Hartree/Bohr; extras: dipole e·Bohr, polarizability Bohr³); they are converted
here, once. For periodic systems the virial −∂E/∂ε (Hartree) comes from the strain derivative
of the energy, so constant-pressure runs work; isolated molecules send a zero virial.

Messages (12-byte ASCII headers, little-endian binary payloads), from i-PI's protocol::

    STATUS   -> NEEDINIT | READY | HAVEDATA
    INIT     <- int32 bead index, int32 length, string ("batch_size:B" announces batching)
    POSDATA  <- cell h (9 f64, columns are lattice vectors), h⁻¹ (9), int32 N, positions (3N)
             batched (B > 1): int32 N, B × (h, h⁻¹), B × positions (3N)
    GETFORCE -> FORCEREADY, energy f64, int32 N, forces (3N), virial (9), int32 len, extras
             batched: B energies, int32 N, B × forces, B × virials, B × (int32 len, extras)
    EXIT

Bead batching. The standard protocol carries one structure per request and i-PI
dispatches the beads to whichever clients are connected. Two ways to evaluate several
beads in one model call:

* i-PI ≥ 3.3 with ``<batch_size>B</batch_size>`` in ``<ffsocket>``: one connection
  receives B structures per request (this driver understands the batched messages);
* ``connections=K`` here: K sockets from one process; positions that arrive on several
  connections within ``batch_window_s`` are evaluated together in one batch.

Several driver processes (``equimol ipi-driver`` started K times) instead evaluate beads in
parallel, one per process.
"""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from equimol import keys as K
from equimol import units as U
from equimol.evaluator import Evaluator
from equimol.potential import Potential

HDRLEN = 12
FORCE_AU = U.BOHR / U.HARTREE  # (eV/Å) -> (Hartree/Bohr)


def _header(msg: str) -> bytes:
    return msg.upper().ljust(HDRLEN).encode()


class ModelEvaluator:
    """Energies (eV), forces (eV/Å), virials (eV), dipoles (e·Å), polarizabilities (Å³) of B
    structures of one molecule in one batched model call, through
    :class:`equimol.evaluator.Evaluator` (Verlet neighbour lists kept between requests).
    ``periodic`` uses the cell i-PI sends and computes the virial −∂E/∂ε; otherwise the
    virial is zero (an isolated molecule in i-PI's box)."""

    def __init__(
        self,
        potential: Potential,
        atomic_numbers,
        periodic: bool = False,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        skin: float = 0.5,
    ):
        self.evaluator = Evaluator(potential, dtype=dtype, device=device, skin=skin, stress=periodic)
        self.z = np.asarray(atomic_numbers, dtype=np.int64)
        self.periodic = periodic
        self.n_structures = 0

    @property
    def n_calls(self) -> int:
        return self.evaluator.n_calls

    def __call__(self, cells: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
        """cells (B, 3, 3) Å, rows are lattice vectors; positions (B, N, 3) Å."""
        if positions.shape[1] != len(self.z):
            raise ValueError(f"i-PI sent {positions.shape[1]} atoms, the structure file has {len(self.z)}")
        cells = np.asarray(cells, dtype=np.float64) if self.periodic else None
        out = self.evaluator.predict_positions(np.asarray(positions, dtype=np.float64), self.z, cells)
        self.n_structures += len(positions)
        res = {k: v.detach().double().cpu().numpy() for k, v in out.items()}
        if K.VIRIAL not in res:
            res[K.VIRIAL] = np.zeros((len(positions), 3, 3))
        return res


@dataclass
class _Connection:
    sock: socket.socket
    initialized: bool = False
    batch: int = 1  # structures per request (announced by i-PI in INIT)
    cells: np.ndarray | None = None  # received, not yet evaluated
    positions: np.ndarray | None = None
    result: list[tuple[float, np.ndarray, str]] | None = None  # evaluated, not yet sent
    waiting: list[str] = field(default_factory=list)  # requests to answer after evaluation

    def recv(self, nbytes: int) -> bytes:
        chunks, remaining = [], nbytes
        while remaining:
            chunk = self.sock.recv(remaining)
            if not chunk:
                raise ConnectionError("i-PI closed the connection")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def recv_array(self, shape, dtype) -> np.ndarray:
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return np.frombuffer(self.recv(n), dtype=dtype).reshape(shape)


def connect(
    address: str = "localhost", port: int | None = None, unix: str | None = None, timeout_s: float = 60.0
) -> socket.socket:
    """Connect to i-PI on a UNIX socket (``unix``: i-PI's name, i.e. /tmp/ipi_NAME, or a path)
    or over TCP; retries until i-PI has opened its socket or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    where = (
        (unix if "/" in unix else f"/tmp/ipi_{unix}") if unix is not None else (address, int(port or 31415))
    )
    while True:
        family = socket.AF_UNIX if unix is not None else socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(where)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise ConnectionError(f"no i-PI server at {where} after {timeout_s:.0f} s") from None
            time.sleep(0.1)
            continue
        if unix is None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the protocol sends small messages
        return sock


class IPIClient:
    """Answer i-PI's requests on one or more connections with batched model evaluations."""

    def __init__(
        self, evaluator: ModelEvaluator, sockets: list[socket.socket], batch_window_s: float = 0.001
    ):
        self.evaluator = evaluator
        self.connections = [_Connection(s) for s in sockets]
        self.batch_window_s = batch_window_s

    def run(self) -> dict[str, int]:
        """Serve until i-PI sends EXIT or closes every connection; returns counts of
        structures evaluated and model calls."""
        open_ = list(self.connections)
        while open_:
            self._read(open_, timeout=None)
            # keep reading while messages arrive: positions sent to other connections join the batch
            while open_ and self._read(open_, timeout=self._window(open_)):
                pass
            self._evaluate_pending(open_)
        return {"structures": self.evaluator.n_structures, "model_calls": self.evaluator.n_calls}

    def _window(self, conns: list[_Connection]) -> float:
        pending = any(c.positions is not None for c in conns)
        return self.batch_window_s if pending and len(conns) > 1 else 0.0

    def _read(self, conns: list[_Connection], timeout: float | None) -> bool:
        """Handle one message on each readable connection; False if none was readable."""
        readable, _, _ = select.select([c.sock for c in conns], [], [], timeout)
        for c in [c for c in conns if c.sock in readable]:
            if not self._handle(c):
                conns.remove(c)
                c.sock.close()
        return bool(readable)

    def _handle(self, c: _Connection) -> bool:
        """Read and handle one message; False when the connection ends."""
        try:
            msg = c.recv(HDRLEN).decode().strip()
        except (ConnectionError, OSError):
            return False
        if msg == "STATUS":
            if c.positions is not None:
                c.waiting.append(msg)
            else:
                reply = "NEEDINIT" if not c.initialized else "HAVEDATA" if c.result is not None else "READY"
                c.sock.sendall(_header(reply))
        elif msg == "INIT":
            c.recv_array((1,), np.int32)  # bead index: any bead may come on any connection
            n = int(c.recv_array((1,), np.int32)[0])
            text = c.recv(n).decode(errors="replace") if n > 0 else ""
            for token in text.split(","):
                key, sep, value = token.partition(":")
                if sep and key.strip() == "batch_size":
                    c.batch = int(value)
            c.initialized = True
        elif msg == "POSDATA":
            self._recv_positions(c)
        elif msg == "GETFORCE":
            if c.positions is not None:
                c.waiting.append(msg)
            else:
                self._send_forces(c)
        elif msg == "EXIT" or msg == "":
            return False
        else:
            raise ConnectionError(f"unexpected message {msg!r} from i-PI")
        return True

    def _recv_positions(self, c: _Connection) -> None:
        if c.batch == 1:
            h = c.recv_array((1, 3, 3), np.float64)
            c.recv_array((9,), np.float64)  # h⁻¹, unused
            n = int(c.recv_array((1,), np.int32)[0])
            pos = c.recv_array((1, n, 3), np.float64)
        else:
            n = int(c.recv_array((1,), np.int32)[0])
            hh = c.recv_array((c.batch, 2, 3, 3), np.float64)
            h = hh[:, 0]
            pos = c.recv_array((c.batch, n, 3), np.float64)
        # i-PI's h has lattice vectors as columns (sent row-major); equimol cells have rows
        c.cells = np.transpose(h, (0, 2, 1)) * U.BOHR
        c.positions = pos * U.BOHR
        c.result = None

    def _evaluate_pending(self, conns: list[_Connection]) -> None:
        pending = [c for c in conns if c.positions is not None]
        if not pending:
            return
        cells = np.concatenate([c.cells for c in pending])
        positions = np.concatenate([c.positions for c in pending])
        out = self.evaluator(cells, positions)
        k = 0
        for c in pending:
            c.result = []
            for _ in range(len(c.positions)):
                extras = {}
                if K.DIPOLE in out:
                    extras["dipole"] = (out[K.DIPOLE][k] / U.E_BOHR).tolist()
                if K.POLARIZABILITY in out:
                    extras["polarizability"] = (out[K.POLARIZABILITY][k] / U.BOHR3).reshape(9).tolist()
                c.result.append(
                    (
                        float(out[K.ENERGY][k]) / U.HARTREE,
                        out[K.FORCES][k] * FORCE_AU,
                        json.dumps(extras) if extras else "",
                        out[K.VIRIAL][k] / U.HARTREE,
                    )
                )
                k += 1
            c.cells = c.positions = None
            for msg in c.waiting:
                if msg == "STATUS":
                    c.sock.sendall(_header("HAVEDATA"))
                else:
                    self._send_forces(c)
            c.waiting = []

    def _send_forces(self, c: _Connection) -> None:
        if c.result is None:
            raise ConnectionError("i-PI asked for forces before sending positions")
        res, c.result = c.result, None
        n = res[0][1].shape[0]
        parts = [_header("FORCEREADY")]
        # the virial travels transposed (i-PI's h has lattice vectors as columns), as ASE's client sends it
        if c.batch == 1:
            energy, forces, extras, virial = res[0]
            parts += [
                np.float64(energy).tobytes(),
                np.int32(n).tobytes(),
                forces.astype(np.float64).tobytes(),
                np.ascontiguousarray(virial.T, dtype=np.float64).tobytes(),
            ]
        else:
            parts += [
                np.array([r[0] for r in res], np.float64).tobytes(),
                np.int32(n).tobytes(),
                np.stack([r[1] for r in res]).astype(np.float64).tobytes(),
                np.stack([np.ascontiguousarray(r[3].T) for r in res]).astype(np.float64).tobytes(),
            ]
        for _, _, extras, _ in res:
            data = extras.encode() if extras else b" "  # at least one byte, as ASE's client does
            parts += [np.int32(len(data)).tobytes(), data]
        c.sock.sendall(b"".join(parts))


def run_driver(
    potential: Potential,
    atomic_numbers,
    *,
    address: str = "localhost",
    port: int | None = None,
    unix: str | None = None,
    connections: int = 1,
    periodic: bool = False,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    batch_window_s: float = 0.001,
    connect_timeout_s: float = 60.0,
) -> dict[str, int]:
    """Connect ``connections`` sockets to i-PI and serve forces until it ends the run;
    returns counts of structures evaluated and model calls."""
    evaluator = ModelEvaluator(potential, atomic_numbers, periodic, dtype, device)
    sockets = [connect(address, port, unix, connect_timeout_s) for _ in range(connections)]
    try:
        return IPIClient(evaluator, sockets, batch_window_s).run()
    finally:
        for s in sockets:
            s.close()


def template_numbers(path: str | Path) -> tuple[np.ndarray, bool]:
    """Atomic numbers (in i-PI's atom order) and periodicity of the first frame of ``path``."""
    import ase.io

    atoms = ase.io.read(str(path), index=0)
    return atoms.numbers.astype(np.int64), bool(atoms.pbc.any())
