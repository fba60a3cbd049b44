"""Neural style transfer: Gatys optimisation and Johnson feed-forward networks."""
