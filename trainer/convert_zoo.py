"""`python -m trainer.convert_zoo CHECKPOINT --preset NAME --classes voc|cityscapes|ade20k|FILE --output DIR`."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from trainer.cli.convert_zoo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
