"""The masked-reconstruction objective: corrupt, encode, decode, compare.

Composes the pieces below the estimators (masking, networks, losses) into the
objective the training engine expects (see ``_engine.py``).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.random import sample_without_replacement

from ._engine import mean_over_chunks
from ._losses import RECONSTRUCTION_LOSSES
from ._masking import SCORING_SEED, corrupt, split_missing

_SCORING_CHUNK_ROWS = 1024


@dataclass
class ReconstructionBatch:
    """What one training batch reconstructs, drawn by :meth:`MaskedReconstruction.prepare_batch`."""

    corrupted: object  # the masked rows, the encoder's input
    target: object  # the rows (or their ``columns``) to reconstruct
    observed: object  # False at missing entries of ``target``; None if none
    columns: object  # the reconstructed features, None for all of them
    column_weights: object  # how many features each of ``columns`` stands for
    touched: list  # the parameters' slices the batch touches (MLP.touched_slices)


class MaskedReconstruction:
    """Reconstruct each row from a randomly masked copy of it.

    Parameters
    ----------
    encoder, decoder : MLP
        The decoder's input width is the encoder's output width.
    loss : {"mse", "multinomial"}
    mask_ratio : float
    corruption : {"zero", "marginal"}
    alpha : float
        L2 penalty on the weights of both networks.
    n_sampled_features : int or None, default=None
        Reconstruction sampling (Dauphin, Glorot and Bengio, 2011): each
        training batch reconstructs only the features present in the batch
        plus this many features drawn at random among the absent ones, each
        standing for ``n_absent / n_sampled_features`` features, so the loss
        stays an unbiased (mse) or consistent (multinomial normaliser)
        estimate while its cost follows the number of stored entries instead
        of the vocabulary. None reconstructs every feature. Scores
        (:meth:`mean_loss`) always use every feature.
    """

    def __init__(
        self, encoder, decoder, loss, mask_ratio, corruption, alpha, n_sampled_features=None
    ):
        self.encoder = encoder
        self.decoder = decoder
        self.loss_function = RECONSTRUCTION_LOSSES[loss]
        self.mask_ratio = mask_ratio
        self.corruption = corruption
        self.alpha = alpha
        self.n_sampled_features = n_sampled_features
        if n_sampled_features is not None:
            # Each batch reads and updates a few thousand output columns.
            decoder.store_output_columns_contiguously()

    @property
    def params(self):
        return self.encoder.params + self.decoder.params

    def _sample_columns(self, X, rng):
        """Features reconstructed for this batch, and the weight of each.

        The cost follows the batch's stored entries, not the vocabulary: the
        sampled absent features are drawn as ranks among the absent ones and
        mapped to feature indices through the sorted present ones.
        """
        n_features = X.shape[1]
        if sp.issparse(X):
            present = np.unique(X.indices)
        else:
            present = np.flatnonzero(X.any(axis=0))
        n_absent = n_features - present.shape[0]
        if self.n_sampled_features >= n_absent:
            return None, None
        ranks = sample_without_replacement(
            n_absent, self.n_sampled_features, random_state=rng
        )
        # The absent feature of rank r is r + (number of present features
        # before it); present[j] - j counts the absent features before present[j].
        sampled = ranks + np.searchsorted(
            present - np.arange(present.shape[0]), ranks, side="right"
        )
        columns = np.concatenate([present, sampled])
        weights = np.ones(columns.shape[0], dtype=X.dtype)
        weights[present.shape[0] :] = n_absent / self.n_sampled_features
        return columns, weights

    def prepare_batch(self, X, y, rng, sample=True):
        """Mask the batch ``X`` and, with ``sample`` and reconstruction
        sampling, draw the features it reconstructs."""
        # Missing entries are hidden from the encoder like masked ones and are
        # never a reconstruction target.
        X, observed = split_missing(X)
        corrupted = corrupt(X, self.mask_ratio, self.corruption, rng)
        columns, weights, target = None, None, X
        if sample and self.n_sampled_features is not None:
            columns, weights = self._sample_columns(X, rng)
            if columns is not None:
                target = X[:, columns]
                observed = None if observed is None else observed[:, columns]
        if self.encoder.input_scale != 1.0:
            # The decoder reconstructs the rows as the encoder sees them.
            target = target * self.encoder.input_scale
        touched = self.encoder.touched_slices(corrupted) + self.decoder.touched_slices(
            None, output_columns=columns
        )
        return ReconstructionBatch(corrupted, target, observed, columns, weights, touched)

    def _loss(self, batch, need_gradient):
        encoder_outputs = self.encoder.forward(batch.corrupted)
        decoder_outputs = self.decoder.forward(
            encoder_outputs[-1], output_columns=batch.columns
        )
        loss, output_grad = self.loss_function(
            batch.target,
            decoder_outputs[-1],
            observed=batch.observed,
            column_weights=batch.column_weights,
        )
        if not need_gradient:
            return loss, None
        n_encoder_params = len(self.encoder.params)
        decoder_grads, code_grad = self.decoder.backward(
            decoder_outputs,
            output_grad,
            need_input_grad=True,
            output_columns=batch.columns,
            touched=batch.touched[n_encoder_params:],
        )
        encoder_grads, _ = self.encoder.backward(
            encoder_outputs, code_grad, touched=batch.touched[:n_encoder_params]
        )
        n_samples = batch.corrupted.shape[0]
        loss += self.encoder.add_l2_penalty(encoder_grads, self.alpha, n_samples)
        loss += self.decoder.add_l2_penalty(decoder_grads, self.alpha, n_samples)
        return loss, encoder_grads + decoder_grads

    def loss_and_gradient(self, batch):
        return self._loss(batch, need_gradient=True)

    def mean_loss(self, X):
        """Mean reconstruction loss of freshly masked rows, with fixed masks,
        over every feature."""
        rng = np.random.RandomState(SCORING_SEED)

        def chunk_loss(chunk):
            batch = self.prepare_batch(chunk, None, rng, sample=False)
            return self._loss(batch, need_gradient=False)[0]

        return mean_over_chunks(chunk_loss, X, _SCORING_CHUNK_ROWS)

    def validation_score(self, X, y=None):
        return -self.mean_loss(X)

    def reconstruct(self, codes):
        """Decoder output for embeddings: values in the units of X (mse) or
        feature probabilities (multinomial)."""
        output = self.decoder.predict(codes)
        if self.loss_function is RECONSTRUCTION_LOSSES["multinomial"]:
            output -= output.max(axis=1, keepdims=True)
            np.exp(output, out=output)
            output /= output.sum(axis=1, keepdims=True)
        elif self.encoder.input_scale != 1.0:
            output /= self.encoder.input_scale
        return output


def has_negative_values(X):
    values = X.data if sp.issparse(X) else X
    # NaN compares False: missing entries are neither negative nor positive.
    return bool(np.any(values < 0))
