"""Online side of nightowl: the command line and the enhancement server (never imports torch)."""
