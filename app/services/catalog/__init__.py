"""The catalog 1C owns: intake of warehouses, categories, collections, products; reads."""
