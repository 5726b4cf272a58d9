"""The console's pages: login, lab, incidents, chaos, game days, audit."""
