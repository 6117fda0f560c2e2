"""Bake semantics on top of the HCL reader: definitions, matrix, overrides, printing."""
