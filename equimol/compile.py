"""The compiled fast path: ``torch.compile`` of energy and forces (inference) and its set-up.

Everything compile-specific lives here: :class:`CompiledPotential`, the inductor options per
model (:data:`MODEL_INDUCTOR_OPTIONS`), the workaround for a torch 2.13 inductor bug, and the
compile-safe per-molecule energy sum. Models and heads carry no compile branches;
:class:`equimol.train.compiled.CompiledLoss` (the compiled training step) uses this set-up.

For MD the input has a fixed number of atoms and, between neighbour-list rebuilds (Verlet
skin, :class:`equimol.evaluator.Evaluator`), a fixed number of edges, which is the
case compilation serves best (``equimol md --compile``). ``CompiledPotential`` is a drop-in for
a :class:`~equimol.potential.Potential` in inference (energy, forces and the other head outputs,
no stress), e.g.::

    fast = CompiledPotential(potential)            # inductor; first call compiles (minutes on CPU)
    force_fn = ModelForceFn(fast, atomic_numbers)   # uses fast.cutoff, fast.eval(), fast(batch)

Forces (``forces_by``): "func" (default) differentiates inside the compiled function with
:func:`torch.func.grad`, so energy and forces are one inference graph (one call, no autograd
bookkeeping around it; 1.2–1.4× faster than "autograd" on ethanol for PaiNN and So3krates
here); "autograd" compiles the energy and runs the backward pass of the compiled graph from
outside (AOTAutograd), as :func:`~equimol.potential.compute_forces` does for the eager model.
Numerics equal the eager model to float32 round-off (tests/benchmark/test_fast_path.py).

Inductor bug (torch 2.13, CPU), worked around by :func:`patch_inductor_mutation_renames`
(applied by ``CompiledPotential``): when the C++ backend fuses two pointwise nodes whose loop
nests differ in shape but not in size (e.g. a flat (N·F,) add and a write into a strided slice
of a ``torch.cat`` or ``slice_scatter`` buffer), it recomputes one node's loop body with
``SchedulerNode.recompute_size_and_body``, which re-derives the node's reads but applies the
renaming of buffers mutated in place (``mutation_renames``) only when the node also has fake
dependencies. A read of an ``index_add`` result (every scatter sum, and the backward pass of
every gather) then depends on the zero-filled buffer instead of the scatter, the scheduler may
fuse it into a kernel that runs before the scatter, and the result silently lacks the scattered
terms: So3krates' energies were off by 60 % (forward: ``f + Δf`` fused into the write of
``cat([f, ‖χ‖²])``), and after that was restructured away its forces by up to 20 % on some
batches (backward graph). The benchmark harness also times a compiled path only after
comparing it with eager.

The allocator setting for large CPU runs (``--malloc retain``) lives with the CLI options,
:func:`equimol.cli.options.retain_freed_memory`.

Compilation happens on the first call and again when shapes change (``dynamic`` as in
:func:`torch.compile`: None recompiles with symbolic shapes after the first change, so a new
edge count after a neighbour-list rebuild does not recompile again). Training and second
derivatives are out of scope here: see :mod:`equimol.train.compiled` for a compiled training step.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from equimol import keys as K
from equimol.potential import Potential, compute_forces


def patch_inductor_mutation_renames() -> bool:
    """Make inductor's ``SchedulerNode.recompute_size_and_body`` rename mutated buffers in the
    reads it re-derives, as ``SchedulerNode.refresh_dependencies`` does (see the module
    docstring). Idempotent (renaming twice is a no-op: the new names are not renamed again) and
    harmless where torch already does it; process-wide. Returns False where the method is not
    there (other torch versions: nothing patched)."""
    try:
        from torch._inductor.scheduler import SchedulerNode
    except ImportError:
        return False
    original = getattr(SchedulerNode, "recompute_size_and_body", None)
    if original is None:
        return False
    if getattr(original, "_equimol_renames_mutations", False):
        return True

    @functools.wraps(original)
    def recompute_size_and_body(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.mutation_renames:
            self.set_read_writes(self.read_writes.rename(self.mutation_renames))

    recompute_size_and_body._equimol_renames_mutations = True
    SchedulerNode.recompute_size_and_body = recompute_size_and_body
    return True


def _cache_tag() -> dict:
    """A no-op post-grad pass whose uuid enters inductor's cache keys, so that graphs compiled
    before :func:`patch_inductor_mutation_renames` (possibly wrong) are not loaded from the
    on-disk cache."""
    from torch._inductor.custom_graph_pass import CustomGraphPass

    class MutationRenamesTag(CustomGraphPass):
        def __call__(self, graph) -> None:
            return None

        def uuid(self) -> str:
            return "equimol.compile: patch_inductor_mutation_renames v1"

    return {"post_grad_custom_post_pass": MutationRenamesTag()}


# C++ instead of Python wrapper code around the generated kernels: one energy + forces call
# of So3krates / PaiNN on ethanol makes ~200 small matmul calls, whose Python dispatch cost
# ~1.2x of the run time (compiling takes ~1 min longer on CPU).
DEFAULT_INDUCTOR_OPTIONS = {"cpp_wrapper": True}


# Per-model inductor options. So3krates: inductor otherwise inlines per-edge pointwise chains
# (distance, cutoff, ...) into every (edge, feature) loop that reads them; materialising them
# made compiled energy + forces of the 64-bead ring polymer 1.15-1.2x faster here
# (benchmarks/ab/inductor_options_ab.py). PaiNN is slower with it, so it is per model.
MODEL_INDUCTOR_OPTIONS: dict[str, dict] = {"so3krates": {"realize_opcount_threshold": 4}}


def inductor_options(options: dict | None = None, potential: Potential | None = None) -> dict:
    """Inductor options of the fast path: ``DEFAULT_INDUCTOR_OPTIONS``, the cache tag of the
    mutation-renames workaround, the model's entry in :data:`MODEL_INDUCTOR_OPTIONS` (by the
    name in ``potential.spec``), then ``options``."""
    name = (getattr(potential, "spec", None) or {}).get("model", {}).get("name")
    return {
        **DEFAULT_INDUCTOR_OPTIONS,
        **_cache_tag(),
        **MODEL_INDUCTOR_OPTIONS.get(name, {}),
        **(options or {}),
    }


def prepare_inductor(options: dict | None, potential: Potential, backend: str, mode: str | None = None):
    """The ``options`` to pass to :func:`torch.compile`: with inductor (and no ``mode``), the
    workaround applied and :func:`inductor_options`; other backends get ``options`` as given."""
    if backend != "inductor":
        return options
    patch_inductor_mutation_renames()
    return inductor_options(options, potential) if mode is None else options


def graph_energies(atomic_energies: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_{i ∈ b} e_i (B,) as a one-hot product: inductor (torch 2.13, CPU, more than one thread)
    fails to generate the float64 atomic add of a scatter sum (AssertionError in
    CppVecKernel.store); the product is the same sum, with O(N·B) work on small compiled batches."""
    n_graphs = batch[K.N_ATOMS].shape[0]
    graphs = torch.arange(n_graphs, device=atomic_energies.device)
    onehot = (batch[K.BATCH][None, :] == graphs[:, None]).to(atomic_energies.dtype)
    return onehot @ atomic_energies


def compiled_properties(potential: Potential, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``potential.properties`` with the per-molecule energy summed by :func:`graph_energies`
    (the head's scatter sum is then unused and dropped from the compiled graph)."""
    out = potential.properties(batch)
    if K.ATOMIC_ENERGIES in out:
        out[K.ENERGY] = graph_energies(out[K.ATOMIC_ENERGIES], batch)
    return out


def compiled_properties_and_forces(
    potential: Potential, batch: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Head outputs and forces −∂E/∂r (N, 3) eV/Å by :func:`torch.func.grad`, a function of the
    inputs only, so that ``torch.compile`` traces energy and forces as one graph (the fast path
    and the compiled training step). ``Potential.forward`` (autograd) gives the same values."""

    def total_energy(pos: torch.Tensor):
        out = compiled_properties(potential, {**batch, K.POSITIONS: pos})
        return out[K.ENERGY].sum(), out

    grad, out = torch.func.grad(total_energy, has_aux=True)(batch[K.POSITIONS])
    return {**out, K.FORCES: -grad}


class CompiledPotential(nn.Module):
    """Energy (B,) eV and forces (N, 3) eV/Å of ``potential`` with energy and forces compiled,
    and every other output of its heads (dipole, polarizability, …: ``potential.outputs``) from
    the same compiled graph, as :meth:`Potential.forward` returns them (``equimol md
    --compile``: the MD of a spectra model records μ and α at no extra call).

    ``backend``: any :func:`torch.compile` backend ("inductor" generates fused C++/Triton
    kernels; "aot_eager" traces without code generation, useful for tests); ``dynamic``,
    ``mode`` and ``options`` (inductor options) as in :func:`torch.compile`; without ``mode``
    inductor runs with ``DEFAULT_INDUCTOR_OPTIONS`` updated by ``options``. ``forces_by``:
    "func" (forces inside the compiled graph) or "autograd" (see the module docstring).
    """

    def __init__(
        self,
        potential: Potential,
        backend: str = "inductor",
        dynamic: bool | None = None,
        mode: str | None = None,
        forces_by: str = "func",
        options: dict | None = None,
    ):
        super().__init__()
        if "energy" not in potential.outputs:
            raise ValueError("CompiledPotential needs a potential with an energy head")
        if forces_by not in ("func", "autograd"):
            raise ValueError(f"forces_by must be 'func' or 'autograd', got {forces_by!r}")
        self.potential = potential
        self.cutoff = potential.cutoff
        self.backend = backend
        self.forces_by = forces_by
        options = prepare_inductor(options, potential, backend, mode)
        self.options = options
        kwargs = {"backend": backend, "dynamic": dynamic, "mode": mode, "options": options}
        self._energy = torch.compile(self._energy_eager, **kwargs)
        self._energy_forces = torch.compile(self._energy_forces_eager, **kwargs)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(self.potential.outputs)

    def _energy_eager(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return compiled_properties(self.potential, batch)  # every head output, as Potential.forward

    def _energy_forces_eager(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return compiled_properties_and_forces(self.potential, batch)

    def forward(self, batch: dict[str, torch.Tensor], forces: bool = True, create_graph: bool | None = None):
        if create_graph:
            raise ValueError("CompiledPotential is for inference; train with the plain potential")
        pos = batch[K.POSITIONS].detach()
        if forces and self.forces_by == "func":
            with torch.no_grad():
                return self._energy_forces({**batch, K.POSITIONS: pos})
        if forces:
            pos.requires_grad_(True)
        with torch.enable_grad() if forces else torch.no_grad():
            out = self._energy({**batch, K.POSITIONS: pos})
            if forces:
                out[K.FORCES] = compute_forces(out[K.ENERGY], pos)
        return {k: v.detach() for k, v in out.items()}


def compile_checked(
    potential: Potential,
    atomic_numbers,
    positions: torch.Tensor,
    dtype: torch.dtype = torch.float32,
    skin: float = 0.0,
) -> tuple[nn.Module, str | None]:
    """``(CompiledPotential(potential, dynamic=True), None)`` once its graph has compiled on
    ``positions`` (S, N, 3) Å, the batch a run starts with, and given every output of the eager
    model there to float32 round-off. The graph has symbolic sizes, so it serves every later
    neighbour list of the run (another edge count) without compiling again: the one graph the run
    uses is the one checked. Else ``(potential, why)``: a compiler that fails (no C++ compiler on
    the machine, an inductor error) or a compiled graph whose numbers differ (the inductor bug of
    the module docstring is the known case) leaves the run eager with a one-line reason, not
    broken or silently wrong. Costs one compilation and one eager call."""
    from equimol.md.model_forces import ModelForceFn

    compiled = CompiledPotential(potential, dynamic=True)
    try:
        fast = ModelForceFn(compiled, atomic_numbers, skin=skin, dtype=dtype)(positions)
    except Exception as err:  # noqa: BLE001 - any compiler failure: the caller runs eagerly
        text = str(err).strip()
        return potential, (text.splitlines()[0][:200] if text else type(err).__name__)
    ref = ModelForceFn(potential, atomic_numbers, skin=skin, dtype=dtype)(positions)
    for key, value in ref.items():
        if key not in fast:
            return potential, f"the compiled model gives no {key}"
        diff = float((fast[key].double() - value.double()).abs().max())
        scale = float(value.double().abs().max())
        if not diff <= 1e-4 + 1e-3 * scale:
            return (
                potential,
                f"compiled {key} differs from the eager model's by {diff:.3g} (largest |value| {scale:.3g})",
            )
    return compiled, None
