"""Sans-I/O core: decisions only. No threads, sockets, sleeps or clock reads here."""
