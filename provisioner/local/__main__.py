"""``make local``: not yet; the local-mode issue builds it."""

print("make local: not yet - the local mode arrives with the workflow and local-mode issue.")
