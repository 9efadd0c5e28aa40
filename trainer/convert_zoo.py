"""`python -m trainer.convert_zoo CHECKPOINT --preset NAME --classes voc|cityscapes|ade20k|FILE --output DIR
[--set ...] [--verify [IMAGE ...]]`."""
import sys

from trainer.cli.convert_zoo import main

if __name__ == "__main__":
    sys.exit(main())
