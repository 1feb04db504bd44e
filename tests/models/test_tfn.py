import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from tests.models.contract import ContractTests, make_batch

SMALL = {
    "n_features": 8,
    "n_scalars": 6,
    "n_vectors": 3,
    "n_interactions": 2,
    "n_basis": 8,
    "radial_hidden": 8,
    "avg_num_neighbors": 4.0,
}


class TestL0Net(ContractTests):
    model_name = "l0net"
    options = SMALL


class TestL1Net(ContractTests):
    model_name = "l1net"
    options = SMALL


class TestL1NetLmax2(ContractTests):
    model_name = "l1net"
    options = {**SMALL, "l_max": 2, "n_tensors": 2}
