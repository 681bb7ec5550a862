"""A run folder: ``write`` (the run files from the members' outcomes, and the figures moved
into place), ``manifest`` (provenance), ``read`` (the files read back and checked),
``folders`` (staging, ownership and the move into place) and ``locks``."""
