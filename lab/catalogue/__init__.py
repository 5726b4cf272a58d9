"""The fault and action catalogue, declared once (catalogue.yaml) and checked against the tree."""
