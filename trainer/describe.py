"""`python -m trainer.describe (--preset NAME | --config FILE) [--input-size H W]`: parameters and Multiply-Adds."""
import sys

from trainer.cli.describe import main

if __name__ == "__main__":
    sys.exit(main())
