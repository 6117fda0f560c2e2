"""The native syntax parser behind `bakeplan.hcl.syntax`, in the order text flows through it.

- `grammar`: python-hcl2's Lark grammar with bakeplan's patches; the Lark parser built from it.
- `tables`: Lark's LALR tables as plain data, shipped (`lalr_tables.marshal`) or exported once.
- `lalr`: the LALR driver: a compact loop over those tables (`firstchars`: its lexer's smaller patterns).
- `diagnostics`: Lark's syntax errors worded as HCL's.
- `tree`, `strings`, `expressions`, `convert`: the tree converter, one class per
  family (positions, strings and templates, expressions, bodies), each on top
  of the one before; `convert` holds the entry points.
"""
