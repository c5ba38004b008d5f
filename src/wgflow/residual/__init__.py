"""Deep residual networks as ODEs and as transport of the data law.

Stacks (:mod:`.stacks`), parameter paths in depth time (:mod:`.paths`), the regularised
objective and the one training loop (:mod:`.objective`), the neural-ODE limit (:mod:`.ode`)
and geodesic scores of data tracks (:mod:`.geodesic`). Thorpe & van Gennip 2023
(arXiv 1810.11741); Gai & Zhang 2021 (arXiv 2102.09235); Benamou & Brenier 2000.
"""

from .baselines import normalised_transport, transport_matched_scale
from .geodesic import (
    kinetic_energy,
    kinetic_ratio,
    line_shape_score,
    mccann_interpolation,
    optimal_transport_score,
    output_spread,
    w2_squared,
)
from .objective import ObjectiveConfig, TrainResult, regularised_objective, train_residual
from .ode import NeuralODE
from .paths import align_layers, aligned_unit_distance, eval_path, h1_seminorm, path_distance, resample_path
from .stacks import ResidualStack, activation


def tracks(model, x):
    """Hidden states (L+1, m, k) of any residual / plain stack or neural ODE for a batch x (m, d)."""
    import torch

    with torch.no_grad():
        return model.tracks(x).detach().cpu().numpy()
