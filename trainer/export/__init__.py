"""Export: a trained model as a SavedModel, a frozen TF1 graph and TFLite files, with their I/O contract."""
