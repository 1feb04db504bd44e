"""The optional compiled fast path: ``torch.compile`` of the energy, forces by autograd outside.

For MD the input has a fixed number of atoms and, between neighbour-list rebuilds (Verlet
skin, :class:`equimol.md.model_forces.ModelForceFn`), a fixed number of edges, which is the
case compilation serves best. ``CompiledPotential`` is a drop-in for a
:class:`~equimol.potential.Potential` wherever only energy (and forces) are needed, e.g.::

    fast = CompiledPotential(potential)            # inductor; first call compiles (minutes on CPU)
    force_fn = ModelForceFn(fast, atomic_numbers)   # uses fast.cutoff, fast.eval(), fast(batch)

Numerics equal the eager model to float32 round-off (tests/benchmark/test_fast_path.py).
Large CPU runs also pay for the C allocator: glibc hands every big tensor out with mmap and
returns it with munmap, so each energy + forces call page-faults its whole working set in again
(kernel time was 58 % of a 1,000-atom PaiNN call here, growing faster than linearly).
:func:`retain_freed_memory` keeps freed memory in the heap for reuse (opt-in, process-wide).

Compilation happens on the first call and again when shapes change (``dynamic`` as in
:func:`torch.compile`: None recompiles with symbolic shapes after the first change, so a new
edge count after a neighbour-list rebuild does not recompile again). Training and second
derivatives are out of scope: use the plain potential there.
"""

from __future__ import annotations

import ctypes
import os

import torch
from torch import nn

from equimol import keys as K
from equimol.potential import Potential, compute_forces


class CompiledPotential(nn.Module):
    """Energy (B,) eV and forces (N, 3) eV/Å of ``potential`` with the energy graph compiled.

    ``backend``: any :func:`torch.compile` backend ("inductor" generates fused C++/Triton
    kernels; "aot_eager" traces without code generation, useful for tests).
    """

    def __init__(
        self,
        potential: Potential,
        backend: str = "inductor",
        dynamic: bool | None = None,
        mode: str | None = None,
    ):
        super().__init__()
        if "energy" not in potential.outputs:
            raise ValueError("CompiledPotential needs a potential with an energy head")
        self.potential = potential
        self.cutoff = potential.cutoff
        self.backend = backend
        self._energy = torch.compile(self._energy_eager, backend=backend, dynamic=dynamic, mode=mode)

    @property
    def outputs(self) -> tuple[str, ...]:
        return (K.ENERGY, K.FORCES)

    def _energy_eager(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.potential.properties(batch)[K.ENERGY]

    def forward(self, batch: dict[str, torch.Tensor], forces: bool = True, create_graph: bool | None = None):
        if create_graph:
            raise ValueError("CompiledPotential is for inference; train with the plain potential")
        pos = batch[K.POSITIONS].detach()
        if forces:
            pos.requires_grad_(True)
        with torch.enable_grad() if forces else torch.no_grad():
            energy = self._energy({**batch, K.POSITIONS: pos})
            out = {K.ENERGY: energy.detach()}
            if forces:
                out[K.FORCES] = compute_forces(energy, pos).detach()
        return out


# glibc malloc: no mmap for large blocks, never trim the heap below 2 GiB of free memory at the top
GLIBC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)


def retain_freed_memory() -> bool:
    """Make glibc serve all allocations from its heap and keep freed memory for reuse.

    Process-wide and irreversible (call it once, at start-up, in programs that evaluate large
    systems on CPU, e.g. MD of thousands of atoms); the resident size then stays at its peak.
    For a child process set ``GLIBC_TUNABLES`` (see :func:`allocator_env`) instead. Returns False
    where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def allocator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: os.environ) with GLIBC_TUNABLES set as :func:`retain_freed_memory` does."""
    out = dict(os.environ if env is None else env)
    out["GLIBC_TUNABLES"] = ":".join(x for x in (out.get("GLIBC_TUNABLES"), GLIBC_TUNABLES) if x)
    return out
