"""Transaction handlers, one module per family of infno."""
