"""``python -m sk_prodembed``: the command line, the same as ``sk-prodembed``.

The bare command fits the embedders on the bundled Flipkart catalog, prints
their test precision@10 next to TF-IDF and TruncatedSVD, and example
recommendations; ``python -m sk_prodembed --help`` lists the commands.
"""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m sk_prodembed"))
