"""The culler service: :mod:`.rules` decides (pure), :mod:`.service` looks and acts."""
