"""The normalised-softmax (proxy) loss: each class has a learned proxy vector.

Classification is a strong baseline for metric learning (Zhai and Wu 2018,
"Classification is a strong baseline for deep metric learning"; Musgrave et
al. 2020, "A metric learning reality check"): each class ``c`` gets a proxy
``p_c``, and a labeled row's unit embedding ``e`` is scored against every
class by ``cos(e, p_c) / temperature``; the loss is the cross-entropy of its
own class. Unlike a triplet, which needs a positive in the same batch, every
labeled row pulls towards its class and away from all others at every step,
which is what catalogs of many small classes lack: with 185 classes of about
20 rows, a batch holds few positive pairs.

The proxies are parameters trained alongside the encoder; the loss returns
the gradients with respect to the embeddings and to the proxies.
"""

import numpy as np

from ._normalization import l2_normalize, l2_normalize_backward
from ._supervised_start import class_means


def initial_proxies(n_classes, n_components, dtype, rng):
    """Random directions: near-orthogonal for ``n_classes <= n_components``,
    spread evenly in expectation otherwise."""
    proxies = rng.standard_normal((n_classes, n_components)).astype(dtype)
    return l2_normalize(proxies)[0]


def place_at_class_means(proxies, Z, labels):
    """Move, in place, each proxy whose class has rows in ``Z`` to the mean of
    their unit embeddings (the softmax then begins as the nearest-centroid
    classifier); the other proxies stay. Returns ``proxies``."""
    means = class_means(l2_normalize(Z)[0], labels, len(proxies))
    present = np.any(means != 0, axis=1)
    proxies[present] = l2_normalize(means[present])[0]
    return proxies


def normalized_softmax_loss(E, labels, proxies, temperature):
    """Mean cross-entropy of each row's class under a softmax of cosine similarities.

    Parameters
    ----------
    E : ndarray of shape (n_samples, n_components)
        Unit embeddings.
    labels : ndarray of int of shape (n_samples,)
        Class of each row, in ``[0, n_classes)``.
    proxies : ndarray of shape (n_classes, n_components)
        One vector per class, of any norm (only its direction counts).
    temperature : float
        Divides the cosine similarities; small values sharpen the softmax.

    Returns
    -------
    loss : float
    grad_E : ndarray of shape (n_samples, n_components)
    grad_proxies : ndarray of shape (n_classes, n_components)
    """
    n_samples = E.shape[0]
    if n_samples == 0:
        return 0.0, np.zeros_like(E), np.zeros_like(proxies)
    P, norms = l2_normalize(proxies)
    logits = (E @ P.T).astype(np.float64) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    log_normalizer = np.log(np.exp(logits).sum(axis=1))
    rows = np.arange(n_samples)
    loss = float(np.mean(log_normalizer - logits[rows, labels]))
    logit_grad = np.exp(logits - log_normalizer[:, None])
    logit_grad[rows, labels] -= 1
    logit_grad /= n_samples * temperature
    logit_grad = logit_grad.astype(E.dtype, copy=False)
    grad_E = logit_grad @ P
    grad_P = l2_normalize_backward(P, norms, logit_grad.T @ E)
    return loss, grad_E, grad_P
