"""The deploy work mode: a REST server over one inference session (`python -m trainer.serve`)."""
