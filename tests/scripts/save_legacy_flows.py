"""Writes the small saved flows that tests/test_saved_flows.py loads: .keras files made with
tfp_survae 0.3.0.dev0 as it was before the elementwise maps moved to their own module
(commit bdc6185), and the log-likelihoods they gave on fixed inputs.

Usage: python tests/scripts/save_legacy_flows.py OUT_DIR
Writes OUT_DIR/<name>.keras for every flow and OUT_DIR/legacy_flows.json with the inputs and
each flow's log_prob as float32 bit patterns (exact) and as decimals (readable).
"""

import json
import os
import sys

import keras
import numpy as np

import tfp_survae as ts

INPUTS = (1.5 * np.random.RandomState(0).randn(16, 3)).astype("float32")


def flows():
    """The flows by name, each perturbed away from its identity initialisation."""
    normal = ts.StandardNormal([3])
    return {
        "affine_coupling": ts.Flow(normal, [
            ts.AffineCoupling(hidden_units=[8]), ts.Reverse(),
            ts.AffineCoupling(hidden_units=[8], scale_fn="exp", num_identity=2)]),
        "rational_quadratic_coupling": ts.Flow(normal, [
            ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=4, bound=2.0), ts.Reverse(),
            ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=5, min_slope=1e-2)]),
        "logistic_mixture_coupling": ts.Flow(normal, [
            ts.LogisticMixtureCoupling(hidden_units=[8], num_components=3), ts.Reverse(),
            ts.LogisticMixtureCoupling(hidden_units=[8], num_components=2,
                                       bisection_steps=40)]),
        "maf_affine": ts.Flow(normal, [
            ts.MaskedAutoregressive(hidden_units=[8]), ts.Reverse(),
            ts.MaskedAutoregressive(hidden_units=[8], scale_fn="softplus",
                                    inverse_autoregressive=True)]),
        "maf_spline": ts.Flow(normal, [
            ts.MaskedAutoregressive(transformer="spline", num_bins=4, hidden_units=[8, 8],
                                    residual=True), ts.Reverse(),
            ts.MaskedAutoregressive(transformer="spline", num_bins=3, bound=2.5,
                                    hidden_units=[8], inverse_autoregressive=True)]),
        "neural_spline_flow": ts.architectures.neural_spline_flow(
            3, num_layers=2, hidden_units=[8], num_bins=4),
        "masked_autoregressive_flow": ts.architectures.masked_autoregressive_flow(
            3, num_layers=2, hidden_units=[8]),
    }


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    record = {"inputs": INPUTS.tolist(), "log_prob": {}, "log_prob_bits": {}}
    for name, flow in flows().items():
        flow.log_prob(INPUTS)  # builds every layer
        rng = np.random.RandomState(1)
        for w in flow.trainable_weights:
            w.assign(w + 0.3 * rng.randn(*w.shape).astype(w.dtype))
        log_prob = np.asarray(flow.log_prob(INPUTS), np.float32)
        flow.save(os.path.join(out_dir, f"{name}.keras"))
        record["log_prob"][name] = log_prob.tolist()
        record["log_prob_bits"][name] = log_prob.view(np.uint32).tolist()
    with open(os.path.join(out_dir, "legacy_flows.json"), "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
