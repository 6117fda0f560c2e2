"""Reading HCL bake files: syntax tree, cty-like values, stdlib functions, evaluation."""
