"""Reference data: GFN2-xTB labels through tblite, and configurational sampling.

Units everywhere: Å, eV, eV/Å, e·Å (dipole), Å³ (polarizability), K, fs.
"""

from equimol.reference.label import LabelReport, label_file, label_structures
from equimol.reference.sampling import (
    NormalModes,
    md_sampling,
    normal_mode_sampling,
    normal_modes,
    relax,
    rotate_group,
    torsion_scan,
)
from equimol.reference.xtb import (
    XTBCalculator,
    XTBError,
    XTBSettings,
    hessian,
    label_structure,
    polarizability,
    single_point,
)

__all__ = [
    "LabelReport",
    "NormalModes",
    "XTBCalculator",
    "XTBError",
    "XTBSettings",
    "hessian",
    "label_file",
    "label_structure",
    "label_structures",
    "md_sampling",
    "normal_mode_sampling",
    "normal_modes",
    "polarizability",
    "relax",
    "rotate_group",
    "single_point",
    "torsion_scan",
]
