import os

# scikit-learn runs its array-API check (numpy namespace) on every estimator only
# when SciPy's array API support is on; it must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
