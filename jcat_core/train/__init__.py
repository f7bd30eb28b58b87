"""Training JCAT: datasets, the authors' pair processing and loss, the trainer (jcat-train, config/train/)."""
