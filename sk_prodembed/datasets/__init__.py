"""Product catalogs: the bundled Flipkart sample and a synthetic generator.

- :func:`load_flipkart_products`: 20,000 real product names with their
  category paths (PromptCloud, CC BY-SA 4.0), shipped inside the package.
- :func:`labelled_product_mask`: the label filtering of the project's
  category-precision protocol, for any catalog of texts and labels.
- :func:`make_product_catalog`: synthetic product titles with known
  categories, for fast tests and examples.
"""

from ._flipkart import labelled_product_mask, load_flipkart_products
from ._synthetic import make_product_catalog

__all__ = [
    "labelled_product_mask",
    "load_flipkart_products",
    "make_product_catalog",
]
