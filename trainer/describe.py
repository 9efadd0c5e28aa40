"""`python -m trainer.describe (--preset NAME | --config FILE) [--input-size H W]`: parameters and Multiply-Adds."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from trainer.cli.describe import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
