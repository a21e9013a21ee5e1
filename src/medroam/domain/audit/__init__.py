"""Smart audit (智能审核): rule metadata, pure mechanisms and the rule book."""
