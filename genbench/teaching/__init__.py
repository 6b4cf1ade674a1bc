"""Course assignments made from genbench's own code: make, check, grade (sandboxed), selftest."""
