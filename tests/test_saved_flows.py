"""Flows saved by earlier versions load and give the log-likelihoods they gave when saved.

The .keras files under tests/data/ were written by tests/scripts/save_legacy_flows.py with
tfp_survae as it was before the couplings and autoregressive layers took elementwise maps
(commit bdc6185); legacy_flows.json holds their inputs and float32 log_prob.
"""

import json
import os

import keras
import numpy as np
import pytest

import tfp_survae as ts

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "legacy_flows.json")) as _f:
    RECORD = json.load(_f)


@pytest.mark.parametrize("name", sorted(RECORD["log_prob"]))
def test_a_flow_saved_before_loads_and_gives_the_same_log_prob(name):
    flow = keras.saving.load_model(os.path.join(DATA, f"{name}.keras"))
    assert isinstance(flow, ts.Flow)
    x = np.asarray(RECORD["inputs"], np.float32)
    log_prob = np.asarray(flow.log_prob(x), np.float32)
    expected = np.asarray(RECORD["log_prob_bits"][name], np.uint32).view(np.float32)
    np.testing.assert_array_equal(log_prob, expected)
