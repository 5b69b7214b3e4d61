"""Course images: references, registries and mirrors, pulls."""
