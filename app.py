"""Start the Vraagbaak web chat on the default corpus (same as `qa serve`)."""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
