"""The JCAT network, one module per block of the paper."""
