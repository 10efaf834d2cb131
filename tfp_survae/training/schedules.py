"""Learning-rate schedules of the paper's experiments."""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["WarmupExponentialDecay"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up times an exponential decay (paper App. I.2-I.3).

    lr(step) = learning_rate * min(1, (step + 1) / warmup_steps) * decay_rate^(step / decay_steps)

    With `decay_steps` = steps per epoch this decays by `decay_rate` per epoch, as the paper's
    image models (warm-up 5000 iterations, 0.995 per epoch on CIFAR-10) and point clouds
    (warm-up 2000, 0.995 per epoch).

    Args:
      learning_rate: the scale of the rate: the rate the warm-up ramps up to, times the
        decay, which runs from step 0 (at the warm-up's last step the rate is
        learning_rate * decay_rate^((warmup_steps - 1) / decay_steps)).
      warmup_steps: steps of the linear warm-up (0: none).
      decay_rate: the factor per `decay_steps` steps.
      decay_steps: the steps over which the rate decays by `decay_rate`.

    Raises:
      ValueError: `warmup_steps` is negative or `decay_steps` not positive.

    Examples:
      >>> schedule = ts.training.WarmupExponentialDecay(1e-3, warmup_steps=10, decay_rate=0.5,
      ...                                               decay_steps=100)
      >>> [round(float(schedule(step)), 6) for step in (0, 9, 100)]
      [0.0001, 0.00094, 0.0005]
      >>> optimizer = keras.optimizers.Adam(schedule)
    """

    def __init__(self, learning_rate: float, warmup_steps: int, decay_rate: float = 1.0,
                 decay_steps: int = 1) -> None:
        if warmup_steps < 0 or decay_steps <= 0:
            raise ValueError(f"warmup_steps must be >= 0 and decay_steps > 0; received "
                             f"{warmup_steps} and {decay_steps}.")
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_rate = float(decay_rate)
        self.decay_steps = int(decay_steps)

    def __call__(self, step: tf.Tensor | int) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warmup = tf.minimum(1.0, (step + 1.0) / max(self.warmup_steps, 1))
        decay = tf.pow(self.decay_rate, step / self.decay_steps)
        return self.learning_rate * warmup * decay

    def get_config(self) -> dict:
        return dict(learning_rate=self.learning_rate, warmup_steps=self.warmup_steps,
                    decay_rate=self.decay_rate, decay_steps=self.decay_steps)
