"""Renderers of a `Plan`: data in, text out (table and Gantt, JSON, Graphviz dot, Mermaid)."""
