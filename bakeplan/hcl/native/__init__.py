"""The native syntax parser behind `bakeplan.hcl.syntax`, in the order text flows through it.

- `grammar`: python-hcl2's Lark grammar with bakeplan's patches; the Lark parser built from it.
- `lalr`: the LALR driver: Lark's tables exported once, driven by a compact loop.
- `diagnostics`: Lark's syntax errors worded as HCL's.
- `tree`, `strings`, `expressions`, `convert`: the tree converter, one class per
  family (positions, strings and templates, expressions, bodies), each on top
  of the one before; `convert` holds the entry points.
"""
